"""Exact and near-duplicate articles: the same story syndicated twice is indexed once.

Exact: a fingerprint of the normalised words (case, accents, punctuation and
spacing ignored). Near: Jaccard similarity of word 5-gram shingles, estimated
with a 64-permutation MinHash (kept in the store, one short string per article)
and confirmed on the real shingles before anything is called a duplicate.
`NEAR_DUPLICATE` was measured on SQuAD-it (see README, "Duplicates").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

SHINGLE_WORDS = 5
NUM_PERM = 64
NEAR_DUPLICATE = 0.3  # Jaccard of word 5-grams from which two articles are one story (measured)
_ESTIMATE_SLACK = 0.2  # MinHash estimates within this of the threshold are checked exactly
_PRIME = (1 << 31) - 1
_rng = np.random.default_rng(20251121)
_A = _rng.integers(1, _PRIME, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, NUM_PERM, dtype=np.uint64)


def words(text: str) -> list[str]:
    """Lower-case words without accents: the units two copies of a story share."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.findall(r"\w+", plain)


def fingerprint(text: str) -> str:
    """Equal for texts that differ only in case, accents, punctuation or spacing."""
    return hashlib.sha256(" ".join(words(text)).encode()).hexdigest()[:16]


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    ws = words(text)
    if len(ws) <= size:
        return {" ".join(ws)} if ws else set()
    return {" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def minhash(shingle_set: Iterable[str]) -> np.ndarray:
    """A NUM_PERM-value signature; equal positions estimate the Jaccard similarity."""
    values = np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")
            for s in shingle_set
        ],
        dtype=np.uint64,
    )
    if values.size == 0:
        return np.full(NUM_PERM, _PRIME, dtype=np.uint64)
    values %= _PRIME
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
    can have dozens in a large store); a batch article's shingles are kept in memory.
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
        # One signature per row, grown by doubling: rebuilding it for every article made a
        # 28,000-article ingest quadratic (bench/run.py, size 100k). Values are below 2**31,
        # so uint32 rows, and equal positions are counted in uint16: every lookup scans all
        # rows, and at 28,000 rows that takes 1.1 ms instead of 2.9 ms (uint64, float mean).
        self._matrix = np.zeros((0, 0), dtype=np.uint32)
        self._shingles: dict[str, set[str]] = {}

    def add(
        self,
        doc_id: str,
        print_: str,
        signature: np.ndarray,
        shingle_set: set[str] | None = None,
    ) -> None:
        self._by_fingerprint.setdefault(print_, doc_id)
        n = len(self._ids)
        if n == len(self._matrix):
            grown = np.zeros((max(64, 2 * n), len(signature)), dtype=np.uint32)
            if n:
                grown[:n] = self._matrix[:n]
            self._matrix = grown
        self._matrix[n] = signature
        self._ids.append(doc_id)
        if shingle_set is not None:
            self._shingles[doc_id] = shingle_set

    def _load_shingles(self, doc_ids: Sequence[str]) -> None:
        missing = [d for d in doc_ids if d not in self._shingles]
        if missing:
            bodies = self.bodies_of(missing)
            for doc_id in missing:
                body = bodies.get(doc_id)
                self._shingles[doc_id] = shingles(body) if body else set()

    def find(
        self, doc_id: str, print_: str, signature: np.ndarray, shingle_set: set[str]
    ) -> tuple[str, float] | None:
        """The article `doc_id` copies, with the similarity (1.0: the same words), or None."""
        same = self._by_fingerprint.get(print_)
        if same is not None and same != doc_id:
            return same, 1.0
        if not self._ids:
            return None
        equal = self._matrix[: len(self._ids)] == signature.astype(np.uint32)[None, :]
        estimates = equal.sum(axis=1, dtype=np.uint16) / len(signature)
        near = np.flatnonzero(estimates >= self.threshold - _ESTIMATE_SLACK)
        candidates = [self._ids[int(i)] for i in near[np.argsort(-estimates[near])]]
        candidates = [other for other in candidates if other != doc_id]
        self._load_shingles(candidates)
        for other in candidates:
            similarity = jaccard(shingle_set, self._shingles[other])
            if similarity >= self.threshold:
                return other, round(similarity, 3)
        return None
