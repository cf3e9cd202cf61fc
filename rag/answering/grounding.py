"""Check generated sentences against the chunks they cite, before anyone sees them.

A language model's sentence is shown only when a retrieved chunk supports it: its
IDF-weighted stemmed terms are found in the chunk (lexical support) and its embedding
is close to one of the chunk's sentences (semantic support), and every name and
number it states occurs in the chunk. A wrong `[n]` is re-mapped to the chunk that
does support the sentence; a sentence no chunk supports is dropped (and counted, so
the answer can say so). Each citation quotes the best supporting sentence of its
chunk, cut verbatim from the stored article body with its offsets.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rag.answering.citations import Citation
from rag.answering.extractive import coverage
from rag.retrieval.lexical import analyze
from rag.retrieval.names import opens_sentence
from vectorstore.documents import Chunk
from vectorstore.sentences import _is_abbreviation, sentence_spans  # one abbreviation list

LEXICAL_SHARE = 0.5  # support = LEXICAL_SHARE * lexical + (1 - LEXICAL_SHARE) * semantic
SUPPORT_MIN = 0.5  # on the seeds paraphrases score ≥ 0.54; invented facts ≤ 0.36 (this score alone)
LEXICAL_MIN = 0.25  # paraphrases keep ≥ 0.33 of the weighted terms, invented facts ≤ 0.19
MIN_CLAIM_TERMS = 2  # content words a sentence needs to be a checkable claim
MIN_QUOTE_WORDS = 4  # shorter "sentences" (headings) are quoted only when nothing else fits

_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_END = re.compile(r"(?:[.!?…]+[\"'»”’)\]]*(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*|\n)")
_NEXT_START = re.compile(r"\s+(?=[«“\"'(*\-•A-ZÀ-ÖØ-Þ0-9])")
_NAME = re.compile(r"(?<![\w’'])[A-ZÀ-Ý][\w-]*")

Embed = Callable[[list[str]], list[list[float]]]


class CachedEmbed:
    """An `Embed` that remembers the vectors of the last `size` texts: the sentences of
    popular chunks are embedded once, not on every question."""

    def __init__(self, embed: Embed, size: int = 4096) -> None:
        self.embed = embed
        self.size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = dict(zip(missing, self.embed(missing), strict=True)) if missing else {}
        with self._lock:
            self._vectors.update(fresh)
            found = [fresh.get(t) or self._vectors[t] for t in texts]
            for t in texts:
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return found


@dataclass(frozen=True)
class Claim:
    """A generated sentence without its `[n]` markers, and the numbers it cited."""

    text: str
    cited: tuple[int, ...]


def parse_claim(sentence: str) -> Claim:
    """`"Peskov è il portavoce [1][3]."` -> Claim("Peskov è il portavoce.", (1, 3))."""
    cited: list[int] = []
    for match in _MARKER.finditer(sentence):
        cited += [int(n) for n in re.split(r"[,;\s]+", match.group(1)) if n]
    text = re.sub(r"\s+", " ", _MARKER.sub("", sentence)).strip()
    text = re.sub(r"\s+([.!?…,;:])", r"\1", text)
    return Claim(text, tuple(dict.fromkeys(cited)))


def split_sentences(text: str, final: bool = True) -> tuple[list[str], str]:
    """Complete sentences of `text` (with their markers) and the unfinished rest.

    A sentence ends at . ! ? … (with closing quotes and any `[n]` markers after it) when
    the next sentence visibly starts, or at a line break. With `final=True` the rest is
    a sentence too (the stream has ended).
    """
    sentences: list[str] = []
    cursor = 0
    for match in _END.finditer(text):
        if match.end() <= cursor:
            continue
        nxt = _NEXT_START.match(text, match.end())
        if match.group(0) != "\n" and (nxt is None or _is_abbreviation(text, match.start())):
            continue  # an abbreviation, a decimal point, or the stream stopped mid-marker
        piece = text[cursor : match.end()].strip()
        if piece:
            sentences.append(piece)
        cursor = nxt.end() if nxt else match.end()
    rest = text[cursor:]
    if final:
        if rest.strip():
            sentences.append(rest.strip())
        rest = ""
    return sentences, rest


def names_and_numbers(text: str) -> set[str]:
    """Stems of capitalised words (not opening the sentence) and the numbers in `text`."""
    found: set[str] = {t for t in analyze(text) if t.isdigit()}
    for match in _NAME.finditer(text):
        if not opens_sentence(text, match.start(), also_skip="*-•"):  # list bullets too
            found.update(analyze(match.group(0)))
    return found


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@dataclass(frozen=True)
class QuoteCandidate:
    """A sentence of a numbered chunk: its article offsets, text, stems and embedding."""

    n: int
    chunk: Chunk
    start: int
    end: int
    text: str
    terms: frozenset[str]
    vector: tuple[float, ...]


@dataclass(frozen=True)
class Support:
    n: int  # the chunk's number in the prompt
    score: float
    quote: QuoteCandidate | None  # the chunk's best supporting sentence


def chunk_candidates(n: int, chunk: Chunk, embed: Embed) -> list[QuoteCandidate]:
    """The sentences of chunk number `n`, embedded in one batch."""
    spans = sentence_spans(chunk.text)
    vectors = embed([chunk.text[s:e] for s, e in spans]) if spans else []
    return [
        QuoteCandidate(
            n, chunk, chunk.start + s, chunk.start + e, chunk.text[s:e],
            frozenset(analyze(chunk.text[s:e])), tuple(v),
        )
        for (s, e), v in zip(spans, vectors, strict=True)
    ]  # fmt: skip


def lexical_support(
    claim_terms: Mapping[str, float], claim_facts: set[str], chunk_terms: set[str]
) -> float:
    """Share of the claim's IDF weight found in the chunk; 0 when the chunk lacks a name or
    number the claim states."""
    return coverage(claim_terms, chunk_terms) if claim_facts <= chunk_terms else 0.0


def semantic_support(
    claim_terms: Mapping[str, float],
    claim_vector: Sequence[float],
    lexical: float,
    candidates: Sequence[QuoteCandidate],
) -> tuple[float, QuoteCandidate | None]:
    """The combined support of a chunk (its lexical share and its sentences' best cosine)
    and the chunk sentence that supports the claim best."""
    if not candidates:
        return 0.0, None
    cosines = [cosine(claim_vector, q.vector) for q in candidates]
    best = max(
        zip(candidates, cosines, strict=True),
        key=lambda qc: (
            len(qc[0].text.split()) >= MIN_QUOTE_WORDS,
            LEXICAL_SHARE * coverage(claim_terms, set(qc[0].terms)) + (1 - LEXICAL_SHARE) * qc[1],
        ),
    )[0]
    return LEXICAL_SHARE * lexical + (1 - LEXICAL_SHARE) * max(cosines), best


@dataclass
class Grounder:
    """Checks claims one by one and numbers the citations in order of first use.

    Embeddings are computed only for claims and chunks that pass the lexical test
    (a claim sharing under LEXICAL_MIN of its weight with a chunk is not supported by it).
    """

    chunks: Sequence[Chunk]
    bodies: Mapping[str, str]
    idf: Callable[[str], float]
    embed: Embed
    citations: list[Citation] = field(default_factory=list)
    dropped: int = 0  # sentences no chunk supports
    corrected: int = 0  # sentences whose `[n]` markers were wrong or missing
    _terms: list[set[str]] = field(default_factory=list)
    _candidates: dict[int, list[QuoteCandidate]] = field(default_factory=dict)

    def _candidates_of(self, n: int) -> list[QuoteCandidate]:
        if n not in self._candidates:
            self._candidates[n] = chunk_candidates(n, self.chunks[n - 1], self.embed)
        return self._candidates[n]

    def supports(self, claim: Claim) -> list[Support]:
        """The support of every chunk that passes the lexical test, in prompt order."""
        if not self._terms:
            self._terms = [set(analyze(c.text)) for c in self.chunks]
        terms = {t: self.idf(t) for t in analyze(claim.text)}
        facts = names_and_numbers(claim.text)
        lexical = [lexical_support(terms, facts, chunk_terms) for chunk_terms in self._terms]
        passing = [n for n, share in enumerate(lexical, start=1) if share >= LEXICAL_MIN]
        if not passing:
            return []
        vector = self.embed([claim.text])[0]
        return [
            Support(n, *semantic_support(terms, vector, lexical[n - 1], self._candidates_of(n)))
            for n in passing
        ]

    def check(self, sentence: str) -> str | None:
        """The sentence with verified `[n]` markers, or None when no chunk supports it."""
        claim = parse_claim(sentence)
        if not claim.text or not re.search(r"\w", claim.text):
            return None
        if len(set(analyze(claim.text))) < MIN_CLAIM_TERMS:
            # "HACKED", "Sì.": nothing a reader could check against the article, even when
            # the word occurs in it (an obeyed planted instruction looks exactly like this).
            self.dropped += 1
            return None
        supports = self.supports(claim)
        kept = [s for s in supports if s.n in claim.cited and s.score >= SUPPORT_MIN and s.quote]
        if not kept:
            best = max(supports, key=lambda s: s.score, default=None)
            if best is None or best.score < SUPPORT_MIN or best.quote is None:
                self.dropped += 1
                return None
            kept = [best]
        if {s.n for s in kept} != set(claim.cited):
            self.corrected += 1
        numbers = dict.fromkeys(self._cite(s.quote) for s in kept if s.quote)  # ordered set
        return claim.text + " " + "".join(f"[{n}]" for n in numbers)

    def _cite(self, quote: QuoteCandidate) -> int:
        for c in self.citations:
            if (c.doc_id, c.start, c.end) == (quote.chunk.doc_id, quote.start, quote.end):
                return c.n
        n = len(self.citations) + 1
        body = self.bodies[quote.chunk.doc_id]
        self.citations.append(Citation.cut(n, quote.chunk, body, quote.start, quote.end))
        return n


def checked_sentences(grounder: Grounder, pieces: Iterator[str]) -> Iterator[str]:
    """Checked sentences as soon as each is complete in a stream of text pieces."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        done, buffer = split_sentences(buffer, final=False)
        for sentence in done:
            checked = grounder.check(sentence)
            if checked:
                yield checked
    for sentence in split_sentences(buffer)[0]:
        checked = grounder.check(sentence)
        if checked:
            yield checked
