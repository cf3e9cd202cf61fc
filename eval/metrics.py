"""Pure scoring functions for newsrag evaluation: answers, retrieval, citations, abstention.

Everything here takes plain data and returns plain data (no I/O, stdlib only) so the
metrics can be unit-tested by hand and reused by any runner or report script.
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "abstention_scores",
    "answer_tokens",
    "citation_precision",
    "contains_answer",
    "find_spans",
    "first_hit_rank",
    "hit_at_k",
    "mean",
    "mean_reciprocal_rank",
    "normalize_answer",
    "normalize_ws",
    "percentile",
    "spans_overlap",
    "token_f1",
]

# Italian articles, including the bare "l"/"un" left behind by elisions ("l'", "un'").
_ARTICLES = frozenset({"il", "lo", "la", "i", "gli", "le", "un", "uno", "una", "l"})

# Apostrophe look-alikes: Italian elision ("dell'Ucraina") glues words, so they must split.
_APOSTROPHES = "'\u2019\u2018`\u02bc\u00b4"

Span = tuple[int, int]


def _is_punct(ch: str) -> bool:
    """Unicode punctuation covers « » “ ” – — … that string.punctuation misses."""
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def _strip_accents(text: str) -> str:
    """Accents are often dropped or mistyped by models and annotators ("perche" vs "perché")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization adapted to Italian, so surface variants compare equal.

    Apostrophes and dashes become spaces (they separate words: "l'Ucraina", "Roma–Milano");
    other punctuation is deleted (so "1.000" == "1000", as in SQuAD); articles are dropped.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = _strip_accents(text)
    chars: list[str] = []
    for ch in text:
        if ch in _APOSTROPHES or unicodedata.category(ch) == "Pd":
            chars.append(" ")
        elif not _is_punct(ch):
            chars.append(ch)
    tokens = [tok for tok in "".join(chars).split() if tok not in _ARTICLES]
    return " ".join(tokens)


def answer_tokens(text: str) -> list[str]:
    """Token list used by F1; kept separate so callers tokenize exactly like the metric."""
    return normalize_answer(text).split()


def contains_answer(answer: str, gold_answers: Sequence[str]) -> bool:
    """Lenient match for free-form answers; token boundaries stop "Peskov" matching "Pesko"."""
    padded = f" {normalize_answer(answer)} "
    if not padded.strip():
        return False
    for gold in gold_answers:
        norm_gold = normalize_answer(gold)
        if norm_gold and f" {norm_gold} " in padded:
            return True
    return False


def exact_match(answer: str, gold_answers: Sequence[str]) -> bool:
    """SQuAD exact match: the normalised answer is one of the normalised gold answers."""
    norm = normalize_answer(answer)
    return bool(norm) and any(norm == normalize_answer(g) for g in gold_answers)


def _f1(pred: list[str], ref: list[str]) -> float:
    """Bag-of-tokens F1 for one pair; two empty sides agree, one empty side scores zero."""
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred)
    recall = overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """SQuAD token F1, max over references because any gold phrasing counts as correct."""
    pred = answer_tokens(prediction)
    return max((_f1(pred, answer_tokens(ref)) for ref in references), default=0.0)


def normalize_ws(text: str) -> str:
    """Only whitespace differs between chunked text and evidence quotes, so only fix that."""
    return " ".join(text.split())


def first_hit_rank(retrieved_texts: Sequence[str], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first chunk holding any evidence; empty evidence never counts."""
    needles = [n for n in (normalize_ws(e) for e in evidence) if n]
    if not needles:
        return None
    for rank, text in enumerate(retrieved_texts, start=1):
        hay = normalize_ws(text)
        if any(n in hay for n in needles):
            return rank
    return None


def _check_ranks(ranks: Sequence[int | None]) -> None:
    """Ranks are 1-based; a 0 would silently inflate MRR or divide by zero."""
    for r in ranks:
        if r is not None and r < 1:
            raise ValueError(f"ranks must be >= 1 or None, got {r}")


def hit_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of queries whose first relevant chunk is in the top k (None = never found)."""
    _check_ranks(ranks)
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """MRR rewards finding evidence early; misses (None) contribute zero."""
    _check_ranks(ranks)
    if not ranks:
        return 0.0
    return math.fsum(1.0 / r for r in ranks if r is not None) / len(ranks)


def spans_overlap(a: Span, b: Span) -> bool:
    """Half-open spans overlap only if they share a character; touching is not overlap."""
    return max(a[0], b[0]) < min(a[1], b[1])


def find_spans(body: str, quotes: Sequence[str]) -> list[Span]:
    """Locate quoted text in an article; a quote may legitimately appear more than once."""
    spans: list[Span] = []
    for quote in quotes:
        if not quote:
            continue
        start = body.find(quote)
        while start != -1:
            spans.append((start, start + len(quote)))
            start = body.find(quote, start + 1)
    return spans


def citation_precision(cited_spans: Sequence[Span], gold_spans: Sequence[Span]) -> float | None:
    """Share of citations that touch gold evidence; None when nothing was cited (undefined)."""
    if not cited_spans:
        return None
    good = sum(1 for c in cited_spans if any(spans_overlap(c, g) for g in gold_spans))
    return good / len(cited_spans)


def abstention_scores(
    abstained: Sequence[bool], answerable: Sequence[bool]
) -> dict[str, float | None]:
    """Score abstaining as a classifier whose positive class is "unanswerable".

    Each ratio is None when its denominator is zero, so reports can show "n/a", not 0.
    """
    if len(abstained) != len(answerable):
        raise ValueError(f"length mismatch: {len(abstained)} abstained vs {len(answerable)}")
    tp = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and not ok)
    fp = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and ok)
    fn = sum(1 for a, ok in zip(abstained, answerable, strict=True) if not a and not ok)
    n_answerable = sum(1 for ok in answerable if ok)
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_abstention_rate": fp / n_answerable if n_answerable else None,
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolation percentile (numpy's default) for latency reports, without numpy."""
    if not 0.0 <= p <= 100.0:  # also rejects NaN
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * (p / 100.0)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    a, b = ordered[lo], ordered[hi]
    # Same two-sided lerp as numpy, so results match it bit-for-bit in the usual cases.
    return b - (b - a) * (1.0 - frac) if frac >= 0.5 else a + (b - a) * frac


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean with None for no data, so empty groups are not reported as 0."""
    if not values:
        return None
    return math.fsum(values) / len(values)
