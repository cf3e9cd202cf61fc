"""The question's dense similarity to chunks and sentences, one query embedding per question.

multilingual-e5-small reads Italian and the user's language alike, so its cosine is
what lets an English question find and choose Italian evidence. A chunk's dense score
is the mean of its vector's cosine and its best sentence's (chunk_score; the vectors
stored at ingest: vectorstore.sentence_vectors). Retrieval asks for the best chunks
(Chroma's nearest by chunk vector, a wider pool re-scored) and for the scores of
candidates only BM25 proposed; the answerer asks for the cosine of candidate sentences:
the stored vectors of the chunks just scored, else embedded on demand, kept in a bounded
cache (a sentence is quoted again and again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from rag.retrieval.rerank import Cosines
from vectorstore.documents import Chunk
from vectorstore.sentence_vectors import StoredVectors
from vectorstore.store import ChromaStore

QUERY_CACHE = 256  # question texts (a conversation's queries, retries, the eval's baselines)
SENTENCE_CACHE = 20_000  # sentence vectors: 20,000 x 384 float32 = 31 MB at most
WORD_CACHE = 10_000  # single words of foreign questions and their candidates: 15 MB at most
# Chroma's nearest chunks (by chunk vector) re-scored for a dense list of k: k x SEARCH_POOL.
SEARCH_POOL = 3


def with_best_sentence(
    chunk_cosines: np.ndarray, sentence_cosines: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """Each chunk's dense score: the mean of its own cosine and its best sentence's
    (`owner[i]`: the chunk of sentence i); a chunk without sentences keeps its own cosine.
    A question usually matches one sentence, which a 400-piece chunk's vector dilutes
    (README, "Sentence vectors"). eval.fit_reranker scores every chunk with it."""
    best = np.full(len(chunk_cosines), -np.inf)
    np.maximum.at(best, owner, sentence_cosines)
    best = np.where(np.isfinite(best), best, chunk_cosines)
    return np.asarray((chunk_cosines + best) / 2.0)


def chunk_score(cosine: float, sentence_cosines: np.ndarray | None) -> float:
    """with_best_sentence for one chunk (its vector's cosine alone without sentence vectors)."""
    found = np.zeros(0) if sentence_cosines is None else np.asarray(sentence_cosines)
    owner = np.zeros(len(found), dtype=np.int64)
    return float(with_best_sentence(np.array([cosine]), found, owner)[0])


class _Lru:
    """A small thread-safe LRU of vectors by text."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class QuestionEncoder(Protocol):
    """What answering a question embeds: the question, and its candidate sentences as
    passages (`vectorstore.embeddings.LocalEmbedder`, on its question lane)."""

    def embed_query(self, text: str) -> list[float]: ...

    def embed_sentences(self, texts: list[str]) -> list[list[float]]: ...

    def embed_queries(self, texts: list[str]) -> list[list[float]]: ...


class DenseScorer:
    """Cosines between a question and chunks or sentences; constructing it does no I/O."""

    def __init__(self, embedder: QuestionEncoder, store: ChromaStore) -> None:
        self.embedder = embedder
        self.store = store
        self._queries = _Lru(QUERY_CACHE)
        self._sentences = _Lru(SENTENCE_CACHE)
        self._words = _Lru(WORD_CACHE)

    def query_vector(self, text: str) -> np.ndarray:
        found = self._queries.get(text)
        if found is None:
            found = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
            self._queries.put(text, found)
        return found

    def search(self, text: str, k: int) -> list[tuple[Chunk, float]]:
        """The `k` best chunks for `text` by chunk_score, among Chroma's k x SEARCH_POOL
        nearest by chunk vector."""
        query = self.query_vector(text)
        scored = [
            (chunk, self._score(query, stored))
            for chunk, _, stored in self.store.nearest(query.tolist(), k * SEARCH_POOL)
        ]
        return sorted(scored, key=lambda item: -item[1])[:k]

    def chunk_cosines(self, text: str, chunks: Sequence[Chunk]) -> list[float]:
        """The chunk_score of `text` for each chunk (0 for a chunk not stored)."""
        return [c.score for c in self.candidate_cosines(text, chunks)]

    def candidate_cosines(self, text: str, chunks: Sequence[Chunk]) -> list[Cosines]:
        """The re-ranker's view of each chunk (rag.retrieval.rerank.Cosines): its
        chunk_score for `text`, its vector's cosine and each sentence's (none for a chunk
        not stored)."""
        query = self.query_vector(text)
        found = []
        for stored in self.store.chunk_vectors(chunks):
            if stored is None:
                found.append(Cosines())
                continue
            chunk, sentences = self._cosines(query, stored)
            found.append(
                Cosines(
                    chunk_score(chunk, sentences),
                    chunk,
                    ()
                    if sentences is None
                    else tuple(zip(stored.texts, map(float, sentences), strict=True)),
                )
            )
        return found

    def _score(self, query: np.ndarray, stored: StoredVectors) -> float:
        """The chunk's score (chunk_score)."""
        return chunk_score(*self._cosines(query, stored))

    def _cosines(self, query: np.ndarray, stored: StoredVectors) -> tuple[float, np.ndarray | None]:
        """The query's cosine to the chunk's vector and to each of its sentences' (None
        without them); the sentence vectors go to the sentence cache, where the answerer
        will look for them."""
        rows = stored.sentences
        if rows is None:
            return float(stored.chunk @ query), None
        for sentence, row in zip(stored.texts, rows, strict=True):
            self._sentences.put(sentence, row)
        return float(stored.chunk @ query), rows @ query

    def sentence_cosines(self, text: str, sentences: Sequence[str]) -> list[float]:
        """The cosine of `text` to each sentence, embedded as a passage (cached)."""
        vectors = cached_vectors(self._sentences, sentences, self.embedder.embed_sentences)
        query = self.query_vector(text)
        return [float(np.dot(v, query)) for v in vectors]

    def word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """Unit vectors of single words, each embedded alone as a query (cached): the
        cross-lingual alignment of rag.answering.crosslingual compares them."""
        vectors = cached_vectors(self._words, words, self.embedder.embed_queries)
        if not vectors:
            return np.zeros((0, 0), np.float32)
        rows = np.stack(vectors)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1.0)


def cached_vectors(
    cache: _Lru, texts: Sequence[str], embed: Callable[[list[str]], list[list[float]]]
) -> list[np.ndarray]:
    """The vector of each text, in order: from `cache`, else embedded (each missing text
    once, in one call) and kept there."""
    known = {t: cache.get(t) for t in set(texts)}
    missing = sorted(t for t, v in known.items() if v is None)
    for t, row in zip(missing, embed(missing) if missing else [], strict=True):
        vector = np.asarray(row, dtype=np.float32)
        known[t] = vector
        cache.put(t, vector)
    return [v for t in texts if (v := known[t]) is not None]
