"""Exact and near-duplicate articles: the same story syndicated twice is indexed once.

Exact: a fingerprint of the normalised words (case, accents, punctuation and
spacing ignored). Near: Jaccard similarity of word 5-gram shingles, estimated
with a 64-permutation MinHash (kept in the store, one short string per article)
and confirmed on the shingles before anything is called a duplicate. Shingles are
compared as 32-bit hashes (the ones the MinHash is built from): sorted arrays, 47 MB
for the 28,571 articles of the 100k benchmark against 994 MB as strings, compared
with every candidate of a lookup at once. `NEAR_DUPLICATE` was measured on SQuAD-it
(see README, "Duplicates").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 5
NUM_PERM = 64
NEAR_DUPLICATE = 0.3  # Jaccard of word 5-grams from which two articles are one story (measured)
_ESTIMATE_SLACK = 0.2  # MinHash estimates within this of the threshold are checked exactly
_PRIME = (1 << 31) - 1
_rng = np.random.default_rng(20251121)
_A = _rng.integers(1, _PRIME, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, NUM_PERM, dtype=np.uint64)


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-case words without accents: the units two copies of a story share."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    if not plain.isascii():  # drop combining marks, looking up each distinct character once
        marks = {ord(ch): None for ch in set(plain) if unicodedata.combining(ch)}
        plain = plain.translate(marks)
    return _WORD.findall(plain)


def _fingerprint(ws: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(ws).encode()).hexdigest()[:16]


def fingerprint(text: str) -> str:
    """Equal for texts that differ only in case, accents, punctuation or spacing."""
    return _fingerprint(words(text))


def _shingles(ws: Sequence[str], size: int = SHINGLE_WORDS) -> set[str]:
    if len(ws) <= size:
        return {" ".join(ws)} if ws else set()
    return {" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1)}


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    return _shingles(words(text), size)


def shingle_hashes(shingle_set: Iterable[str]) -> np.ndarray:
    """The shingles' 32-bit hashes, sorted and unique: what MinHash and the check compare."""
    return np.unique(
        np.array(
            [
                int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")
                for s in shingle_set
            ],
            dtype=np.uint32,
        )
    )


@dataclass(frozen=True)
class ArticleKeys:
    """What the duplicate index needs of one article, from one pass over its words."""

    fingerprint: str
    signature: np.ndarray
    shingles: np.ndarray  # shingle_hashes


def article_keys(text: str) -> ArticleKeys:
    ws = words(text)
    hashes = shingle_hashes(_shingles(ws))
    return ArticleKeys(_fingerprint(ws), _signature(hashes), hashes)


def minhash(shingle_set: Iterable[str]) -> np.ndarray:
    """A NUM_PERM-value signature; equal positions estimate the Jaccard similarity."""
    return _signature(shingle_hashes(shingle_set))


def _signature(hashes: np.ndarray) -> np.ndarray:
    if hashes.size == 0:
        return np.full(NUM_PERM, _PRIME, dtype=np.uint64)
    values = hashes.astype(np.uint64) % _PRIME
    hashed = (_A[:, None] * values[None, :] + _B[:, None]) % _PRIME
    result: np.ndarray = hashed.min(axis=1)
    return result


def encode_signature(signature: np.ndarray) -> str:
    return signature.astype("<u4").tobytes().hex()


def decode_signature(text: str) -> np.ndarray | None:
    try:
        raw = np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint64)
    except ValueError:
        return None
    return raw if raw.size == NUM_PERM else None


class DuplicateIndex:
    """The articles seen so far (stored ones and this batch's), searchable for copies.

    `bodies_of` fetches stored articles' bodies for the exact check, all of one
    lookup's candidates at once (one store read, not one per candidate: an article
    can have dozens in a large store); a batch article's shingle hashes are kept in
    memory.
    """

    def __init__(
        self,
        bodies_of: Callable[[Sequence[str]], Mapping[str, str]],
        threshold: float = NEAR_DUPLICATE,
    ) -> None:
        self.bodies_of = bodies_of
        self.threshold = threshold
        self._by_fingerprint: dict[str, str] = {}
        self._ids: list[str] = []
        # One signature per column, grown by doubling: rebuilding it for every article made
        # a 28,000-article ingest quadratic (bench/run.py, size 100k). Values are below
        # 2**31, so uint32. Every lookup compares all columns, one permutation (row) at a
        # time: at 28,500 articles 0.5 ms, against 1.7 ms comparing whole signatures.
        self._columns = np.zeros((NUM_PERM, 0), dtype=np.uint32)
        self._shingles: dict[str, np.ndarray] = {}

    def add(
        self,
        doc_id: str,
        print_: str,
        signature: np.ndarray,
        hashes: np.ndarray | None = None,
    ) -> None:
        """Index an article; its `shingle_hashes` are kept when given, else read if needed."""
        self._by_fingerprint.setdefault(print_, doc_id)
        n = len(self._ids)
        if n == self._columns.shape[1]:
            grown = np.zeros((NUM_PERM, max(64, 2 * n)), dtype=np.uint32)
            grown[:, :n] = self._columns[:, :n]
            self._columns = grown
        self._columns[:, n] = signature
        self._ids.append(doc_id)
        if hashes is not None:
            self._shingles[doc_id] = hashes

    def _load_shingles(self, doc_ids: Sequence[str]) -> None:
        missing = [d for d in doc_ids if d not in self._shingles]
        if missing:
            bodies = self.bodies_of(missing)
            for doc_id in missing:
                body = bodies.get(doc_id)
                self._shingles[doc_id] = shingle_hashes(shingles(body)) if body else _NONE

    def find(
        self, doc_id: str, print_: str, signature: np.ndarray, hashes: np.ndarray
    ) -> tuple[str, float] | None:
        """The article `doc_id` copies, with the similarity (1.0: the same words), or None."""
        same = self._by_fingerprint.get(print_)
        if same is not None and same != doc_id:
            return same, 1.0
        if not self._ids:
            return None
        n, equal = len(self._ids), np.zeros(len(self._ids), dtype=np.uint8)
        for row, value in zip(self._columns, signature.astype(np.uint32), strict=True):
            equal += row[:n] == value
        estimates = equal / NUM_PERM
        near = np.flatnonzero(estimates >= self.threshold - _ESTIMATE_SLACK)
        candidates = [self._ids[int(i)] for i in near[np.argsort(-estimates[near])]]
        candidates = [other for other in candidates if other != doc_id]
        if not candidates:
            return None
        self._load_shingles(candidates)
        similarity = jaccards(hashes, [self._shingles[other] for other in candidates])
        above = np.flatnonzero(similarity >= self.threshold)
        if not above.size:
            return None
        best = int(above[0])  # the first in order of estimate, as the estimates rank them
        return candidates[best], round(float(similarity[best]), 3)


_NONE = np.zeros(0, dtype=np.uint32)


def jaccards(hashes: np.ndarray, others: Sequence[np.ndarray]) -> np.ndarray:
    """The Jaccard similarity of one sorted unique hash array with each of `others`,
    all at once: one search of every other hash in `hashes`."""
    sizes = np.array([len(o) for o in others], dtype=np.int64)
    joined = np.concatenate([*others, _NONE])
    if hashes.size:
        at = np.minimum(np.searchsorted(hashes, joined), hashes.size - 1)
        shared = np.concatenate(([0], np.cumsum(hashes[at] == joined)))
    else:
        shared = np.zeros(joined.size + 1, dtype=np.int64)
    ends = np.cumsum(sizes)
    common = shared[ends] - shared[ends - sizes]
    union = hashes.size + sizes - common
    return np.where(union > 0, common / np.maximum(union, 1), 0.0)
