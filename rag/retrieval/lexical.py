"""Italian-stemmed BM25 (PyStemmer, bm25s's Italian stopwords) in segments that change in
place, and the analyzer that scores sentences too.

On Italian news the English-trained embedding model is weak and stemmed BM25 is
strong, so this index carries most of the retrieval (see README figures).
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import bm25s
import numpy as np
import Stemmer
from scipy.sparse import csc_matrix, csr_matrix, vstack

from rag.retrieval.italian_forms import IRREGULAR

# Question words carry no evidence; English ones too, for questions asked in English.
_QUESTION_WORDS = """
cosa cos che chi quando dove come quale quali qual quanto quanta quanti quante perche
perché mai ciò cio detto dice dicono secondo articolo articoli
what who whom whose when where why how which the a an of in on to is are was were did
does do and or for with about by from at as that this these those it its be been has have
had said says say
""".split()
# Italian function words that bm25s's list lacks (modal verbs, "essere", quantifiers, adverbs).
_FUNCTION_WORDS = """
già ogni sa so può possono potrebbe potrebbero potrà potranno potuto deve devono dovrebbe
dovrebbero dovrà dovuto essere esserci stato stata stati state fare fa molto molti molta
molte meno ancora sempre solo tale tali altro altri altra altre circa invece però ovvero
cioè inoltre così fra ecco oppure quindi dunque poi
""".split()
STOPWORDS = (
    frozenset(bm25s.stopwords.STOPWORDS_ITALIAN)
    | frozenset(_QUESTION_WORDS)
    | frozenset(_FUNCTION_WORDS)
)
PREFIX_CHARS = 5  # measured on SQuAD-it: 4, 5 and 6 within 0.5 pt, 5 best
_WORD = re.compile(r"\w+", re.UNICODE)
_local = threading.local()


# word -> stem. Stemming is per word and deterministic, so threads may share this cache;
# stemming each distinct word once makes building the index several times faster
# (PyStemmer's own cache holds 10,000 words and thrashes on a large corpus).
_STEMS: dict[str, str] = {}
_MAX_STEMS = 1_000_000


def _stemmer() -> Stemmer.Stemmer:
    """PyStemmer objects are not thread-safe: one per thread (its own cache off)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("italian", 0)
    return stemmer


def _stem(words: list[str]) -> list[str]:
    cached = [_STEMS.get(w) for w in words]
    if None not in cached:
        return cast(list[str], cached)
    new = list(dict.fromkeys(w for w, s in zip(words, cached, strict=True) if s is None))
    fresh = dict(zip(new, _stemmer().stemWords(new), strict=True))
    if len(_STEMS) > _MAX_STEMS:
        _STEMS.clear()
    _STEMS.update(fresh)
    return [fresh[w] if s is None else s for w, s in zip(words, cached, strict=True)]


def analyze(text: str) -> list[str]:
    """Lowercase word stems without stopwords ("dell’Ucraina" -> ["ucrain"])."""
    words = [
        IRREGULAR.get(w, w)  # "nacque" as "nascere": the stem of "nasce", "nascita"
        for w in _WORD.findall(text.lower())
        if w not in STOPWORDS and not w.isdigit()
    ]
    words += [w for w in _WORD.findall(text) if w.isdigit()]  # years and numbers match exactly
    return _stem(words) if words else []


def prefixes(text: str) -> list[str]:
    """Word prefixes of PREFIX_CHARS letters without stopwords ("contribuirà", "contributi"
    -> "contr"): they join forms that Snowball stems apart, as translations often produce."""
    words = _WORD.findall(text.lower())
    return [w if w.isdigit() else w[:PREFIX_CHARS] for w in words if w not in STOPWORDS]


def idf(df: int, n: int) -> float:
    """BM25's (Lucene) inverse document frequency, always positive."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Postings:
    """One immutable segment of an index: each text's term counts, a column per term."""

    vocab: dict[str, int]  # term -> column
    counts: csc_matrix  # (texts, terms), term frequencies (uint16)
    lengths: np.ndarray  # tokens per text
    name: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, tokens: Sequence[Sequence[str]], name: str | None = None) -> Postings:
        vocab: dict[str, int] = {}
        flat = [vocab.setdefault(t, len(vocab)) for toks in tokens for t in toks]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        rows = np.repeat(np.arange(len(tokens)), lengths)
        # Duplicates are summed into counts; 16 bits hold any text's (a chunk is ~500 pieces)
        # in half the memory of float32 (60 MB over the three indexes at 100k chunks).
        ones = np.ones(len(flat), dtype=np.uint16)
        columns = np.array(flat, dtype=np.int64)
        counts = csc_matrix((ones, (rows, columns)), (len(tokens), len(vocab)))
        counts.sum_duplicates()
        return cls(vocab, counts, lengths, name or uuid.uuid4().hex)

    def __len__(self) -> int:
        return len(self.lengths)

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The texts holding `term` (positions in this segment) and its count in each."""
        j = self.vocab.get(term)
        if j is None:
            return _NO_ROWS, _NO_COUNTS
        a, b = self.counts.indptr[j], self.counts.indptr[j + 1]
        return self.counts.indices[a:b], self.counts.data[a:b].astype(np.float32)

    def rows(self, positions: np.ndarray, vocab: dict[str, int]) -> csr_matrix:
        """These texts' counts with columns renumbered into `vocab` (which holds this
        segment's terms), for merging segments."""
        remap = np.empty(len(self.vocab), dtype=np.int64)
        for term, j in self.vocab.items():
            remap[j] = vocab[term]
        part = self.counts.tocsr()[positions].tocoo()
        return csr_matrix((part.data, (part.row, remap[part.col])), (len(positions), len(vocab)))

    def save(self, path: Path) -> None:
        """Write `path`.npz (counts) and `path`.json (terms by column)."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        np.savez(
            path.with_name(f"{path.name}.npz"),
            data=self.counts.data,
            indices=self.counts.indices,
            indptr=self.counts.indptr,
            lengths=self.lengths,
        )
        path.with_name(f"{path.name}.json").write_text(
            json.dumps(terms, ensure_ascii=False), "utf-8"
        )

    @classmethod
    def load(cls, path: Path, name: str) -> Postings:
        terms = json.loads(path.with_name(f"{path.name}.json").read_text("utf-8"))
        with np.load(path.with_name(f"{path.name}.npz")) as saved:
            lengths = saved["lengths"]
            shape = (len(lengths), len(terms))
            counts = csc_matrix((saved["data"], saved["indices"], saved["indptr"]), shape)
        return cls({t: j for j, t in enumerate(terms)}, counts, lengths, name)


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_COUNTS = np.zeros(0, dtype=np.float32)


class LexicalIndex:
    """BM25 over a list of texts, plus term statistics for sentence scoring.

    An immutable snapshot: `appended` and `without` return a new index that shares this
    one's segments (Lucene's design: immutable segments plus deletion marks), so readers
    keep a consistent index while a writer prepares the next. Statistics (text count,
    mean length, document frequency) are those of the live texts and BM25 is computed at
    query time from them, so an index changed in place ranks exactly as one built afresh
    over the same texts (bm25s bakes them into a static matrix, hence not used here).
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self._set((Postings.of([analyze(t) for t in texts]),), None, k1, b)

    @classmethod
    def from_tokens(
        cls,
        tokens: Sequence[Sequence[str]],
        k1: float = 1.2,
        b: float = 0.75,
        name: str | None = None,
    ) -> LexicalIndex:
        return cls.of_segments((Postings.of(tokens, name),), None, k1, b)

    @classmethod
    def of_segments(
        cls,
        segments: tuple[Postings, ...],
        live: np.ndarray | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> LexicalIndex:
        index = cls.__new__(cls)
        index._set(segments, live, k1, b)
        return index

    def _set(
        self, segments: tuple[Postings, ...], live: np.ndarray | None, k1: float, b: float
    ) -> None:
        self.segments = segments
        self.k1, self.b = k1, b
        self.offsets = np.cumsum([0] + [len(s) for s in segments])
        self.total = int(self.offsets[-1])  # positions, live or deleted
        self.live = np.ones(self.total, dtype=bool) if live is None else live
        lengths = np.concatenate([s.lengths for s in segments]) if segments else _NO_ROWS
        self.lengths = lengths.astype(np.float64)
        self.size = int(self.live.sum())  # live texts
        self.avg_length = float(self.lengths[self.live].sum()) / max(self.size, 1)
        self._df: dict[str, int] = {}

    # changes ------------------------------------------------------------------------------
    def appended(self, tokens: Sequence[Sequence[str]], name: str | None = None) -> LexicalIndex:
        """This index with these texts added after its last position (a new segment)."""
        added = Postings.of(tokens, name)
        live = np.concatenate((self.live, np.ones(len(added), dtype=bool)))
        return self.of_segments((*self.segments, added), live, self.k1, self.b)

    def without(self, positions: Sequence[int] | np.ndarray) -> LexicalIndex:
        """This index with the texts at `positions` deleted (their positions stay unused)."""
        live = self.live.copy()
        live[np.asarray(positions, dtype=np.int64)] = False
        return self.of_segments(self.segments, live, self.k1, self.b)

    def merged(self, first: int, name: str, live_only: bool = False) -> LexicalIndex:
        """Segments `first`… as one segment called `name`. Positions stay as they are,
        unless `live_only`: then deleted texts go, and the live ones after them move up."""
        vocab: dict[str, int] = {}
        for segment in self.segments[first:]:
            for term in segment.vocab:
                vocab.setdefault(term, len(vocab))
        parts, lengths = [], []
        for s, segment in enumerate(self.segments[first:], start=first):
            rows = np.arange(len(segment))
            if live_only:
                rows = rows[self.live[self.offsets[s] : self.offsets[s + 1]]]
            parts.append(segment.rows(rows, vocab))
            lengths.append(segment.lengths[rows])
        counts = vstack(parts).tocsc() if parts else csc_matrix((0, len(vocab)))
        joined = Postings(vocab, counts, np.concatenate(lengths) if lengths else _NO_ROWS, name)
        start = int(self.offsets[first])
        tail = self.live[start:]
        live = np.concatenate((self.live[:start], tail[tail] if live_only else tail))
        return self.of_segments((*self.segments[:first], joined), live, self.k1, self.b)

    # statistics ---------------------------------------------------------------------------
    def df(self, term: str) -> int:
        """How many live texts hold `term`."""
        known = self._df.get(term)
        if known is None:
            known = self._df[term] = sum(
                int(np.count_nonzero(self.live[start + segment.column(term)[0]]))
                for segment, start in zip(self.segments, self.offsets, strict=False)
            )
        return known

    @property
    def doc_freq(self) -> Counter[str]:
        """Every term's document frequency among the live texts (computed: for inspection)."""
        terms = {t for segment in self.segments for t in segment.vocab}
        return Counter({t: n for t in terms if (n := self.df(t))})

    def idf(self, term: str) -> float:
        return idf(self.df(term), max(self.size, 1))

    def score(self, terms: Sequence[str], tokens: Sequence[str]) -> float:
        """BM25 of one text (its `tokens`) for the query terms, with this index's statistics."""
        counts = Counter(tokens)
        norm = self.k1 * (1 - self.b + self.b * len(tokens) / (self.avg_length or 1.0))
        return sum(
            self.idf(t) * counts[t] * (self.k1 + 1) / (counts[t] + norm)
            for t in set(terms)
            if counts[t]
        )

    def scores(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The live positions that hold any of `terms` and their BM25 (Lucene's, as bm25s
        computes it: each occurrence of a term in the query counts)."""
        positions, values = [], []
        average = self.avg_length or 1.0
        for term in terms:
            df = self.df(term)
            if not df:
                continue
            weight = idf(df, max(self.size, 1))
            for segment, start in zip(self.segments, self.offsets, strict=False):
                rows, tf = segment.column(term)
                if len(rows):
                    at = rows.astype(np.int64) + start
                    norm = self.k1 * (1 - self.b + self.b * self.lengths[at] / average)
                    positions.append(at)
                    values.append(weight * tf / (tf + norm))
        if not positions:
            return _NO_ROWS.astype(np.int64), _NO_COUNTS.astype(np.float64)
        at = np.concatenate(positions)
        unique, inverse = np.unique(at, return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate(values))
        keep = self.live[unique]
        return unique[keep], total[keep]

    def search(
        self, terms: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Positions of the best `k` live texts for the query terms, with BM25 scores > 0,
        best first (equal scores by position); `mask` (one 0/1 per position) leaves out
        those marked 0. Only the texts that hold a query term are scored (a few ms over
        500,000 sentences; measured: bench/lexical_coldstart.py)."""
        hits, scores = self.scores(terms)
        if mask is not None and len(hits):
            keep = np.asarray(mask)[hits] > 0
            hits, scores = hits[keep], scores[keep]
        if len(hits) > k:
            kth = np.partition(scores, len(hits) - k)[len(hits) - k]
            keep = scores >= kth
            hits, scores = hits[keep], scores[keep]
        best = np.lexsort((hits, -scores))[:k]
        return [(int(hits[i]), float(scores[i])) for i in best]
