"""The lexical corpus: the chunks and three BM25 indexes over them, as immutable snapshots.

A chunk scores by its own BM25 and by its best sentence's BM25: a question is usually
answered by one sentence, and a chunk holding the question's terms in one sentence beats
one that scatters them (measured on SQuAD-it: README). A prefix index adds forms that
the stemmer splits apart.

Articles are added and removed in batches that become new segments of each index
(`added`, `removed`); a snapshot is never changed, so a question keeps reading the one
it started with while a writer prepares the next (issue 19). `tidied` merges small
segments and drops deleted positions now and then, as Lucene's merges do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.retrieval.lexical import LexicalIndex, analyze, prefixes
from vectorstore.documents import Chunk
from vectorstore.sentences import sentence_spans

CHUNK_SHARE = 0.7  # the chunk's own BM25 against its best sentence's (measured: README)
PREFIX_WEIGHT = 0.5  # the prefix index's share, added to the stemmed blend (measured)
SEARCH_DEPTH = 50  # chunks (and 5x sentences) each index proposes before blending
MAX_SEGMENTS = 8  # more, and the segments after the first are merged into one
MAX_DELETED = 0.25  # a larger share of deleted positions, and they are dropped


@dataclass(frozen=True)
class SentenceChunks:
    """The positions of the chunks holding each sentence, as two arrays: sentence `s`'s are
    `chunks[starts[s]:starts[s + 1]]`. A Python list per sentence took 86 MB at 100k chunks
    (655,085 sentences); these take 8."""

    starts: np.ndarray  # int64, one more than there are sentences
    chunks: np.ndarray  # int32

    @classmethod
    def of(cls, lists: Sequence[Sequence[int]]) -> SentenceChunks:
        sizes = np.fromiter((len(ps) for ps in lists), np.int64, count=len(lists))
        starts = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        flat = np.fromiter((p for ps in lists for p in ps), np.int32, count=int(starts[-1]))
        return cls(starts, flat)

    @classmethod
    def joined(cls, parts: Sequence[SentenceChunks]) -> SentenceChunks:
        """Parts one after another, positions as they are."""
        if not parts:
            return cls.of([])
        ends = np.cumsum([0, *(len(p.chunks) for p in parts[:-1])])
        starts = [p.starts[:-1] + end for p, end in zip(parts, ends, strict=True)]
        return cls(
            np.concatenate([*starts, [int(ends[-1]) + len(parts[-1].chunks)]]).astype(np.int64),
            np.concatenate([p.chunks for p in parts]).astype(np.int32),
        )

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, sentence: int) -> list[int]:
        return self.chunks[self.starts[sentence] : self.starts[sentence + 1]].tolist()

    def lists(self, start: int, end: int) -> list[list[int]]:
        """Sentences `start` to `end`, a list each (the saved snapshot's JSON)."""
        return [self[s] for s in range(start, end)]

    def firsts(self) -> np.ndarray:
        return self.chunks[self.starts[:-1]]

    def shifted(self, base: int) -> SentenceChunks:
        return SentenceChunks(self.starts, self.chunks + np.int32(base))

    def kept(self, sentences: np.ndarray, moved: np.ndarray) -> SentenceChunks:
        """Only these `sentences`, their chunk positions renumbered by `moved`."""
        return SentenceChunks.of(
            [moved[self.chunks[self.starts[s] : self.starts[s + 1]]] for s in sentences]
        )


@dataclass(frozen=True)
class Batch:
    """Chunks to add, analysed: the tokens of each index and which sentence is in which
    chunk (positions relative to the batch)."""

    chunks: list[Chunk]
    tokens: list[list[str]]
    sentence_tokens: list[list[str]]
    sentence_chunks: list[list[int]]
    prefix_tokens: list[list[str]]

    @classmethod
    def of(cls, chunks: list[Chunk]) -> Batch:
        sentence_tokens: list[list[str]] = []
        sentence_chunks: list[list[int]] = []
        seen: dict[tuple[str, int], int] = {}
        for position, chunk in enumerate(chunks):
            for s, e in sentence_spans(chunk.text):
                key = (chunk.doc_id, chunk.start + s)
                if key not in seen:
                    seen[key] = len(sentence_tokens)
                    sentence_tokens.append(analyze(chunk.text[s:e]))
                    sentence_chunks.append([])
                sentence_chunks[seen[key]].append(position)
        return cls(
            chunks,
            [analyze(f"{c.title}\n{c.text}") for c in chunks],
            sentence_tokens,
            sentence_chunks,
            [prefixes(f"{c.title}\n{c.text}") for c in chunks],
        )


@dataclass(frozen=True)
class LexicalCorpus:
    """The chunks by position, a BM25 index over them (title + text), one over their
    unique sentences and one over their word prefixes. Positions of removed articles stay
    (marked deleted in the indexes) until `tidied` drops them."""

    chunks: list[Chunk]
    index: LexicalIndex  # over chunks, position for position
    sentences: LexicalIndex  # over unique sentences
    sentence_chunks: SentenceChunks  # sentence -> positions of the chunks holding it
    dates: np.ndarray  # ISO date of each chunk's article, "" when undated
    prefixes: LexicalIndex  # over chunks (title + text), 5-letter word prefixes

    @classmethod
    def build(cls, chunks: list[Chunk]) -> LexicalCorpus:
        batch = Batch.of(list(chunks))
        name = uuid.uuid4().hex
        return cls(
            batch.chunks,
            LexicalIndex.from_tokens(batch.tokens, name=name),
            LexicalIndex.from_tokens(batch.sentence_tokens, name=name),
            SentenceChunks.of(batch.sentence_chunks),
            _dates(batch.chunks),
            LexicalIndex.from_tokens(batch.prefix_tokens, name=name),
        )

    # changes ------------------------------------------------------------------------------
    def added(self, chunks: list[Chunk]) -> LexicalCorpus:
        """This corpus with these chunks (whole articles not in it) as a new segment."""
        if not chunks:
            return self
        if not self.chunks:
            return LexicalCorpus.build(chunks)
        batch = Batch.of(chunks)
        name = uuid.uuid4().hex
        base = len(self.chunks)
        return LexicalCorpus(
            self.chunks + batch.chunks,
            self.index.appended(batch.tokens, name),
            self.sentences.appended(batch.sentence_tokens, name),
            SentenceChunks.joined(
                [self.sentence_chunks, SentenceChunks.of(batch.sentence_chunks).shifted(base)]
            ),
            np.concatenate((self.dates, _dates(batch.chunks))),
            self.prefixes.appended(batch.prefix_tokens, name),
        )

    def removed(self, doc_ids: Iterable[str]) -> LexicalCorpus:
        """This corpus without the chunks and sentences of these articles."""
        gone = set(doc_ids)
        chunks = np.array(
            [p for p, c in enumerate(self.chunks) if c.doc_id in gone and self.index.live[p]],
            dtype=np.int64,
        )
        if not len(chunks):
            return self
        dead = np.zeros(len(self.chunks), dtype=bool)
        dead[chunks] = True
        first = self.sentence_chunks.firsts()
        sentences = np.flatnonzero(dead[first] & self.sentences.live)
        return LexicalCorpus(
            self.chunks,
            self.index.without(chunks),
            self.sentences.without(sentences),
            self.sentence_chunks,
            self.dates,
            self.prefixes.without(chunks),
        )

    def doc_ids(self) -> set[str]:
        """The articles whose chunks are live."""
        return {self.chunks[p].doc_id for p in np.flatnonzero(self.index.live)}

    def live_chunks(self) -> list[Chunk]:
        return [self.chunks[p] for p in np.flatnonzero(self.index.live)]

    def tidied(self) -> LexicalCorpus:
        """Deleted positions dropped when they are MAX_DELETED of all; segments after the
        first merged when there are more than MAX_SEGMENTS; else this corpus."""
        total = len(self.chunks)
        if total and 1 - self.index.size / total > MAX_DELETED:
            return self._merged(0, live_only=True)
        if len(self.index.segments) > MAX_SEGMENTS:
            return self._merged(1, live_only=False)
        return self

    def _merged(self, first: int, live_only: bool) -> LexicalCorpus:
        name = uuid.uuid4().hex
        chunks, sentence_chunks, dates = self.chunks, self.sentence_chunks, self.dates
        if live_only:
            assert first == 0, "positions move only when every segment is merged"
            keep = np.flatnonzero(self.index.live)
            moved = np.full(len(self.chunks), -1, dtype=np.int64)
            moved[keep] = np.arange(len(keep))
            chunks = [self.chunks[p] for p in keep]
            sentence_chunks = self.sentence_chunks.kept(np.flatnonzero(self.sentences.live), moved)
            dates = self.dates[keep]
        return LexicalCorpus(
            chunks,
            self.index.merged(first, name, live_only),
            self.sentences.merged(first, name, live_only),
            sentence_chunks,
            dates,
            self.prefixes.merged(first, name, live_only),
        )

    # search -------------------------------------------------------------------------------
    def mask(self, start: dt.date | None, end: dt.date | None) -> np.ndarray | None:
        """1 for chunks whose article date is inside [start, end]; None when no range."""
        if start is None and end is None:
            return None
        keep = self.dates != ""
        if start is not None:
            keep &= self.dates >= start.isoformat()
        if end is not None:
            keep &= self.dates <= end.isoformat()
        return keep.astype(np.float32)

    def scores(
        self, text: str, k: int, mask: np.ndarray | None = None
    ) -> dict[int, tuple[float, float, float]]:
        """Chunk positions matching `text`, each with its chunk BM25, its best sentence's
        BM25 and its prefix BM25, each over the best of its kind (0 where it did not match)."""
        terms = analyze(text)
        by_chunk = dict(self.index.search(terms, max(k, SEARCH_DEPTH), mask))
        by_prefix = dict(self.prefixes.search(prefixes(text), max(k, SEARCH_DEPTH), mask))
        by_sentence: dict[int, float] = {}
        for sentence, score in self.sentences.search(terms, 5 * max(k, SEARCH_DEPTH)):
            for position in self.sentence_chunks[sentence]:
                if mask is None or mask[position]:
                    by_sentence[position] = max(by_sentence.get(position, 0.0), score)
        top_chunk = max(by_chunk.values(), default=0.0) or 1.0
        top_sentence = max(by_sentence.values(), default=0.0) or 1.0
        top_prefix = max(by_prefix.values(), default=0.0) or 1.0
        return {
            p: (
                by_chunk.get(p, 0.0) / top_chunk,
                by_sentence.get(p, 0.0) / top_sentence,
                by_prefix.get(p, 0.0) / top_prefix,
            )
            for p in by_chunk.keys() | by_sentence.keys() | by_prefix.keys()
        }

    def search(self, text: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Chunk positions by chunk BM25 blended with their best sentence's BM25, plus the
        chunk's BM25 over word prefixes."""
        return top_blended(self.scores(text, k, mask), k)


def _dates(chunks: list[Chunk]) -> np.ndarray:
    return np.array([c.date or "" for c in chunks], dtype="U10")


def top_blended(parts: Mapping[int, tuple[float, float, float]], k: int) -> list[tuple[int, float]]:
    """The `k` best positions by CHUNK_SHARE of chunk BM25, the rest of sentence BM25, and
    PREFIX_WEIGHT of prefix BM25."""
    blended = {
        p: CHUNK_SHARE * chunk + (1 - CHUNK_SHARE) * sentence + PREFIX_WEIGHT * prefix
        for p, (chunk, sentence, prefix) in parts.items()
    }
    return sorted(blended.items(), key=lambda item: -item[1])[:k]
