"""Italian-stemmed BM25 (bm25s + PyStemmer) and the analyzer that scores sentences too.

On Italian news the English-trained embedding model is weak and stemmed BM25 is
strong, so this index carries most of the retrieval (see README figures).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import bm25s
import numpy as np
import Stemmer

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
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit()]
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


class LexicalIndex:
    """BM25 over a fixed list of texts, plus term statistics for sentence scoring."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self._build([analyze(t) for t in texts], k1, b)

    @classmethod
    def from_tokens(
        cls, tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
    ) -> LexicalIndex:
        index = cls.__new__(cls)
        index._build([list(t) for t in tokens], k1, b)
        return index

    def _build(self, tokens: list[list[str]], k1: float, b: float) -> None:
        self.size = len(tokens)
        self.k1, self.b = k1, b
        self.avg_length = sum(map(len, tokens)) / max(self.size, 1)
        self.doc_freq: Counter[str] = Counter()
        for toks in tokens:
            self.doc_freq.update(set(toks))
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.size:
            # bm25s needs at least one token per document to build its vocabulary.
            self._bm25.index([t or ["\x00"] for t in tokens], show_progress=False)

    def save(self, folder: Path) -> None:
        """Write the bm25s index and the term statistics into `folder` (a non-empty index)."""
        self._bm25.save(str(folder), show_progress=False)
        stats = {"size": self.size, "k1": self.k1, "b": self.b, "avg_length": self.avg_length}
        (folder / "stats.json").write_text(
            json.dumps({**stats, "doc_freq": self.doc_freq}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """An index written by `save`, as it was."""
        stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        index = cls.__new__(cls)
        index.size, index.k1, index.b = int(stats["size"]), stats["k1"], stats["b"]
        index.avg_length = stats["avg_length"]
        index.doc_freq = Counter(stats["doc_freq"])
        index._bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        return index

    def idf(self, term: str) -> float:
        return idf(self.doc_freq.get(term, 0), max(self.size, 1))

    def score(self, terms: Sequence[str], tokens: Sequence[str]) -> float:
        """BM25 of one text (its `tokens`) for the query terms, with this index's statistics."""
        counts = Counter(tokens)
        norm = self.k1 * (1 - self.b + self.b * len(tokens) / (self.avg_length or 1.0))
        return sum(
            self.idf(t) * counts[t] * (self.k1 + 1) / (counts[t] + norm)
            for t in set(terms)
            if counts[t]
        )

    def search(
        self, terms: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Positions of the best `k` texts for the query terms, with BM25 scores > 0, best
        first (equal scores by position); `mask` (one 0/1 per text) leaves out those marked 0.

        bm25s's scores, but not its top-k: its `argpartition` over every text (mostly zeros)
        took ~140 ms per query over 500,000 sentences; choosing among the texts that score
        at all takes a few ms and gives the same results, except that ties are now broken
        by position rather than arbitrarily (measured: bench/lexical_coldstart.py).
        """
        known = [t for t in terms if t in self.doc_freq]
        if not known or not self.size:
            return []
        scores = self._bm25.get_scores(known, weight_mask=mask)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            cut = len(hits) - k
            kth = np.partition(scores[hits], cut)[cut]
            hits = hits[scores[hits] >= kth]
        best = hits[np.lexsort((hits, -scores[hits]))][:k]
        return [(int(d), float(scores[d])) for d in best]
