"""A learned re-ranker: a linear model over lexical and dense features of each candidate chunk.

BM25 alone cannot tell a chunk that has the question's words scattered across it
from one that has them together in one sentence, next to each other, in the same
order, or in its title; nor can it see a paraphrase or a question in another language,
which the dense cosines do, of the chunk and of each sentence. These features are weighed
by a listwise logistic regression (the softmax over each question's candidates) fitted on
the SQuAD-it dev half (`python -m eval.fit_reranker`, which writes
`rag/retrieval/reranker.json` with its cross-validated figures; README). Pure functions: the
candidate's text and scores come in, scores go out.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rag.retrieval.answer_types import CALENDAR_YEAR, TIME, expected_type, has_type
from rag.retrieval.lexical import analyze, prefixes
from vectorstore.records import store_identity
from vectorstore.sentences import sentence_spans

WEIGHTS_FILE = Path(__file__).with_name("reranker.json")
FEATURES = (
    "fused",  # the first stage's fused score, over the best candidate's
    "chunk_bm25",  # the chunk's BM25 for the question, over the best
    "sentence_bm25",  # its best sentence's BM25, over the best
    "prefix_bm25",  # BM25 over 5-letter word prefixes, over the best
    "inverse_rank",
    "log_rank",
    "coverage",  # IDF-weighted share of the question's terms in the chunk
    "sentence_coverage",  # ... in its best sentence
    "pair_coverage",  # ... in its best sentence and half of the next
    "prefix_coverage",  # share of the question's word prefixes in one sentence
    "trigrams",  # share of the question's word trigrams (stopwords kept) in the chunk
    "title",  # IDF-weighted share of the question's terms in the title
    "answer_type",  # the best sentence holds a date/number when one is asked for
    "dense",  # the question's cosine to the chunk (multilingual-e5-small)
    "dense_gap",  # ... less the best candidate's cosine
    "sentence_dense",  # the question's cosine to the chunk's best sentence
    "chunk_dense",  # ... to the chunk's own vector
    "coverage_dense",  # the best sentence by its coverage plus its cosine: the two together
    "coverage_dense_gap",  # ... less the best candidate's
)
# The features that are the dense model's cosines alone: without them (no dense retrieval,
# or a store of another model than the one the weights read), each is taken at its mean.
COSINE_FEATURES = ("dense", "dense_gap", "sentence_dense", "chunk_dense")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Cosines:
    """The question's cosines to one chunk: its dense score (rag.retrieval.dense.chunk_score),
    its vector's, and each of its sentences' by their text."""

    score: float = 0.0
    chunk: float = 0.0
    sentences: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One chunk proposed by the first stage, with its scores there (each over the best)."""

    title: str
    text: str
    fused: float
    chunk_bm25: float
    sentence_bm25: float
    prefix_bm25: float
    cosines: Cosines = Cosines()  # the question's to the chunk and its sentences (0: none)


@dataclass(frozen=True)
class LinearModel:
    """Standardise each feature, then a weighted sum (what eval.fit_reranker fits).

    `abstain_below` is the evidence floor fitted with it: the score (the logistic of the
    sum) under which the best candidate rarely holds an answer (EVIDENCE_BUDGET of the dev
    half's answerable questions score under it, out of fold; 0: none fitted). It holds for
    the scores of `model`, the embedding model whose cosines the dense features were."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    abstain_below: float = 0.0
    model: str = ""

    def reads(self, store_model: str) -> bool:
        """Whether a store of `store_model` (its identity, as the store records it) holds
        the cosines the dense features and the floor were fitted with."""
        return store_identity(self.model) == store_model

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(((rows - self.mean) / self.scale) @ self.weights)

    def to_json(self, **about: object) -> str:
        return json.dumps(
            {
                "features": list(self.features),
                "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(),
                "weights": self.weights.round(6).tolist(),
                "abstain_below": round(self.abstain_below, 4),
                "model": self.model,
                **about,
            },
            indent=1,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        raw = json.loads(text)
        if tuple(raw["features"]) != FEATURES:
            raise ValueError(f"re-ranker weights are for other features: {raw['features']}")
        return cls(
            FEATURES,
            np.array(raw["mean"]),
            np.array(raw["scale"]),
            np.array(raw["weights"]),
            float(raw.get("abstain_below", 0.0)),
            str(raw.get("model", "")),
        )


@cache
def shipped_model() -> LinearModel:
    """The weights fitted on the SQuAD-it dev half and shipped with the package."""
    return LinearModel.from_json(WEIGHTS_FILE.read_text(encoding="utf-8"))


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return set(zip(words, words[1:], words[2:], strict=False))


def features(
    question: str, weights: Mapping[str, float], candidates: Sequence[Candidate]
) -> np.ndarray:
    """One row of FEATURES per candidate (in first-stage order); `weights` are the IDF
    weights of the question's terms (rag.answering.extractive.question_terms)."""
    total = sum(weights.values()) or 1.0
    question_prefixes = set(prefixes(question))
    question_trigrams = list(_trigrams(question))
    kind = expected_type(question)
    # The weights read "in che anno…?" as any time, as they were fitted; the strict reading
    # (a year in figures) cross-validates the same (hit@1 / hit@4 0.827 / 0.942, README).
    kind = TIME if kind == CALENDAR_YEAR else kind
    top_fused = max((c.fused for c in candidates), default=0.0) or 1.0
    top_dense = max((c.cosines.score for c in candidates), default=0.0)
    rows = []
    for rank, c in enumerate(candidates, start=1):
        sentences = [c.text[s:e] for s, e in sentence_spans(c.text)] or [c.text]
        tokens = [set(analyze(s)) for s in sentences]
        covered = [sum(w for t, w in weights.items() if t in ts) / total for ts in tokens]
        cosine_of = dict(c.cosines.sentences)
        together = max(
            cov + cosine_of.get(s, 0.0) for cov, s in zip(covered, sentences, strict=True)
        )
        best = int(np.argmax(covered))
        pair = max([a + 0.5 * b for a, b in itertools.pairwise(covered)] or covered)
        chunk_terms = set().union(*tokens)
        chunk_trigrams = _trigrams(c.text)
        title_terms = set(analyze(c.title))
        shared_prefixes = [len(question_prefixes.intersection(prefixes(s))) for s in sentences]
        rows.append(
            [
                c.fused / top_fused,
                c.chunk_bm25,
                c.sentence_bm25,
                c.prefix_bm25,
                1.0 / rank,
                math.log(rank),
                sum(w for t, w in weights.items() if t in chunk_terms) / total,
                covered[best],
                pair,
                max(shared_prefixes) / max(1, len(question_prefixes)),
                sum(1 for g in question_trigrams if g in chunk_trigrams)
                / max(1, len(question_trigrams)),
                sum(w for t, w in weights.items() if t in title_terms) / total,
                float(has_type(sentences[best], kind, weights.keys())),
                c.cosines.score,
                c.cosines.score - top_dense,
                max(cosine_of.values(), default=c.cosines.chunk),
                c.cosines.chunk,
                together,
                0.0,  # coverage_dense_gap: set below, once every candidate's is known
            ]
        )
    found = np.array(rows, dtype=float).reshape(len(candidates), len(FEATURES))
    together_at = FEATURES.index("coverage_dense")
    gap_at = FEATURES.index("coverage_dense_gap")
    if len(found):
        found[:, gap_at] = found[:, together_at] - found[:, together_at].max()
    return found


def logistic(linear: np.ndarray) -> np.ndarray:
    """The model's sums as scores in (0, 1), as the service ranks by them."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(linear, -30, 30))))


def without_dense(rows: np.ndarray, model: LinearModel) -> np.ndarray:
    """`rows` of candidates without cosines (features gives them 0) as the model can read
    them: each of the COSINE_FEATURES at its mean, saying nothing either way, and
    coverage_dense (then the best sentence's coverage alone) with the mean best-sentence
    cosine added; its gap to the best candidate's is a coverage gap as it stands. Cosines
    at 0 would sit tens of deviations under the means, and every candidate's sum far under
    the logistic's range: all tied."""
    filled = np.array(rows, dtype=float)
    for name in COSINE_FEATURES:
        at = model.features.index(name)
        filled[:, at] = model.mean[at]
    typical = model.mean[model.features.index("sentence_dense")]
    filled[:, model.features.index("coverage_dense")] += typical
    return filled


def rerank_scores(
    question: str,
    weights: Mapping[str, float],
    candidates: Sequence[Candidate],
    model: LinearModel,
    dense: bool = True,
) -> list[float]:
    """A score in (0, 1) per candidate (the model's logistic): higher is better. Without
    `dense` (the candidates carry no cosines of the model's: LinearModel.model), the dense
    features are left out (without_dense)."""
    if not candidates:
        return []
    rows = features(question, weights, candidates)
    return [float(s) for s in logistic(model.score(rows if dense else without_dense(rows, model)))]
