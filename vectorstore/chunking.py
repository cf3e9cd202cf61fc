"""Sentence-aligned chunks that fit the embedding model's window.

Pure functions: token counts are passed in, so the rules are tested without a
model. Chunks are built from whole sentences (a sentence longer than the window
is cut at word boundaries) and consecutive chunks share `overlap` sentences, so
any sentence is always inside at least one chunk whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]


def split_long_span(
    text: str, span: Span, max_tokens: int, count_tokens: TokenCounter
) -> list[Span]:
    """Cut one over-long sentence into word-aligned pieces of at most `max_tokens`."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[span[0] : span[1]])]
    counts = count_tokens([text[span[0] + s : span[0] + e] for s, e in words])
    pieces: list[Span] = []
    piece_start: int | None = None
    piece_end = 0
    used = 0
    for (s, e), n in zip(words, counts, strict=True):
        if piece_start is not None and used + n > max_tokens:
            pieces.append((span[0] + piece_start, span[0] + piece_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = s
        piece_end, used = e, used + n
        # A single word over the window (e.g. a URL) stays whole: the model truncates it.
    if piece_start is not None:
        pieces.append((span[0] + piece_start, span[0] + piece_end))
    return pieces


def fit_sentences(
    text: str, spans: Sequence[Span], max_tokens: int, count_tokens: TokenCounter
) -> tuple[list[Span], list[int]]:
    """Sentence spans with their token counts, long sentences split to fit."""
    counts = count_tokens([text[s:e] for s, e in spans])
    if all(n <= max_tokens for n in counts):
        return list(spans), counts
    fitted: list[Span] = []
    for span, n in zip(spans, counts, strict=True):
        if n <= max_tokens:
            fitted.append(span)
        else:
            fitted.extend(split_long_span(text, span, max_tokens, count_tokens))
    return fitted, count_tokens([text[s:e] for s, e in fitted])


def paragraph_starts(text: str, spans: Sequence[Span]) -> frozenset[int]:
    """Indices of the sentences that open a paragraph (a line break precedes them)."""
    return frozenset(j for j in range(1, len(spans)) if "\n" in text[spans[j - 1][1] : spans[j][0]])


def pack_chunks(
    spans: Sequence[Span],
    counts: Sequence[int],
    max_tokens: int,
    overlap: int = 1,
    paragraphs: frozenset[int] = frozenset(),
    paragraph_min: int = 0,
) -> list[Span]:
    """Greedily pack consecutive sentences into chunks of at most `max_tokens`.

    A chunk also ends where a paragraph begins (`paragraphs`: sentence indices)
    once it holds `paragraph_min` word pieces, so one chunk rarely mixes two topics;
    shorter paragraphs (headings, one-liners) join the next. No overlap is carried
    across a paragraph break. WordPiece never makes a token of whitespace, so a
    chunk's token count is the sum of its sentences' counts.
    """
    if overlap < 0:
        raise ValueError("overlap must be >= 0")
    chunks: list[Span] = []
    i = 0
    while i < len(spans):
        j, used = i, 0
        while j < len(spans) and (j == i or used + counts[j] <= max_tokens):
            if j > i and j in paragraphs and used >= paragraph_min:
                break
            used += counts[j]
            j += 1
        chunks.append((spans[i][0], spans[j - 1][1]))
        if j >= len(spans):
            break
        # Step back `overlap` sentences (not into the previous paragraph), always forward.
        i = j if j in paragraphs else max(i + 1, j - overlap)
    return chunks
