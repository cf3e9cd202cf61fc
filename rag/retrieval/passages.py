"""Small-to-big sources: a chunk is what is embedded and ranked, a passage is what is shown.

Chunks fit the embedding model's 256-piece window (about 770 characters of Italian).
A reader, and the answerer, get more out of the chunk with its neighbouring
sentences: the passage is the chunk widened, a sentence at a time alternately after
and before it, up to the 1,500-character source limit (LangChain calls the pattern
a parent-document retriever). Measured on the SQuAD-it dev half: README.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from vectorstore.documents import Chunk
from vectorstore.sentences import sentence_spans

Span = tuple[int, int]
SOURCE_MAX_CHARS = 1500  # a source shown to a user is never longer
PASSAGE_MAX_CHARS = SOURCE_MAX_CHARS
SHOWN_SHARE = 0.5  # a chunk at least this much inside an earlier passage adds nothing new


def widen_span(
    spans: Sequence[Span], start: int, end: int, limit: int, taken: Sequence[Span] = ()
) -> Span:
    """[start, end) grown by whole sentences of `spans` (the body's, in order), one after
    then one before, while the whole stays within `limit` characters and out of the
    `taken` spans (passages already shown)."""
    after = _until_taken([s for s in spans if s[0] >= end], taken)
    before = _until_taken([s for s in reversed(spans) if s[1] <= start], taken)
    take_after = True
    while after or before:
        side = after if (take_after and after) or not before else before
        take_after = not take_after
        s, e = side.pop(0)
        if max(end, e) - min(start, s) > limit:
            side.clear()  # the next sentence on this side does not fit: stop growing it
            continue
        start, end = min(start, s), max(end, e)
    return start, end


def _until_taken(side: list[Span], taken: Sequence[Span]) -> list[Span]:
    """The sentences of one side up to the first that overlaps a taken span."""
    for i, (s, e) in enumerate(side):
        if any(s < te and ts < e for ts, te in taken):
            return side[:i]
    return side


def widen(
    chunk: Chunk, body: str, limit: int = PASSAGE_MAX_CHARS, taken: Sequence[Span] = ()
) -> Chunk:
    """The chunk as a passage of `body` (its article) of at most `limit` characters, not
    growing into the `taken` spans; the chunk itself when it is already that long or
    the body does not hold it (the article changed since it was indexed)."""
    if chunk.end - chunk.start >= limit or body[chunk.start : chunk.end] != chunk.text:
        return chunk
    nearby = nearby_sentences(body, chunk.start, chunk.end, limit)
    start, end = widen_span(nearby, chunk.start, chunk.end, limit, taken)
    return dataclasses.replace(chunk, start=start, end=end, text=body[start:end])


def nearby_sentences(body: str, start: int, end: int, reach: int) -> list[Span]:
    """The sentences of `body` within `reach` characters of [start, end), split locally
    (an article can be long, a question should not split all of it). A sentence
    starting further away cannot fit in a passage of `reach` characters anyway; the
    region's first and last pieces may be cut, so they are dropped unless they are the
    body's own first or last."""
    lo, hi = max(0, start - reach - 1), min(len(body), end + reach + 1)
    spans = [(lo + s, lo + e) for s, e in sentence_spans(body[lo:hi])]
    if lo > 0:
        spans = spans[1:]
    if hi < len(body):
        spans = spans[:-1]
    return spans


def overlap(a: Chunk, b: Chunk) -> int:
    """Characters two spans of the same article share (0 across articles)."""
    if a.doc_id != b.doc_id:
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def passages(
    ranked: Sequence[tuple[Chunk, float]], bodies: Mapping[str, str], k: int
) -> list[tuple[Chunk, float]]:
    """The first `k` ranked chunks widened into passages, best first. A chunk mostly
    inside a passage already chosen is skipped, and no passage grows into another, so
    sources do not repeat each other. A chunk that is no longer its article's words at
    its offsets (the article was deleted or rewritten after the lexical snapshot that
    found it was taken) is left out: every source stays verbatim."""
    chosen: list[tuple[Chunk, float]] = []
    for chunk, score in ranked:
        if len(chosen) == k:
            break
        body = bodies.get(chunk.doc_id)
        if body is None or body[chunk.start : chunk.end] != chunk.text:
            continue
        size = max(1, chunk.end - chunk.start)
        if any(overlap(chunk, p) >= SHOWN_SHARE * size for p, _ in chosen):
            continue
        taken = [(p.start, p.end) for p, _ in chosen if p.doc_id == chunk.doc_id]
        chosen.append((widen(chunk, body, taken=taken), score))
    return chosen
