"""The question's dense similarity to chunks and sentences, one query embedding per question.

multilingual-e5-small reads Italian and the user's language alike, so its cosine is
what lets an English question find and choose Italian evidence. Retrieval asks for
the nearest chunks and for the cosine of candidates only BM25 proposed (their stored
vectors); the answerer asks for the cosine of candidate sentences, which are embedded
on demand and kept in a bounded cache (a sentence is quoted again and again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from vectorstore.documents import Chunk
from vectorstore.store import ChromaStore

QUERY_CACHE = 256  # question texts (a conversation's queries, retries, the eval's baselines)
SENTENCE_CACHE = 20_000  # sentence vectors: 20,000 x 384 float32 = 31 MB at most
WORD_CACHE = 10_000  # single words of foreign questions and their candidates: 15 MB at most


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
        """The `k` stored chunks nearest to `text`, with their cosines."""
        return self.store.dense_search(self.query_vector(text).tolist(), k)

    def chunk_cosines(self, text: str, chunks: Sequence[Chunk]) -> list[float]:
        """The cosine of `text` to each chunk's stored vector (0 for a chunk not stored)."""
        query = self.query_vector(text)
        return [
            float(v @ query) if v is not None else 0.0 for v in self.store.chunk_vectors(chunks)
        ]

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
