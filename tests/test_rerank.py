"""The learned re-ranker: its features, its model file, and fitting it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.datasets import load_set
from eval.fit_reranker import Question, cross_validate, fit, hits, questions
from rag.retrieval.rerank import (
    FEATURES,
    WEIGHTS_FILE,
    Candidate,
    LinearModel,
    features,
    rerank_scores,
    shipped_model,
)
from rag.settings import load_settings

QUESTION = "Quando Putin ha ringraziato Kim Jong-un per i soldati?"
WEIGHTS = {"putin": 2.0, "ringraz": 3.0, "kim": 2.0, "jong": 2.0, "un": 1.0, "soldat": 1.5}
TOGETHER = Candidate(
    "Vertice in Cina",
    "Mercoledì Putin ha ringraziato Kim Jong-un per i soldati. Poi è partito.",
    fused=1.0,
    chunk_bm25=0.9,
    sentence_bm25=1.0,
    prefix_bm25=0.9,
)
SCATTERED = Candidate(
    "Altro",
    "Putin parla. I soldati marciano. Kim Jong-un applaude. Tutti hanno ringraziato.",
    fused=1.0,
    chunk_bm25=1.0,
    sentence_bm25=0.4,
    prefix_bm25=1.0,
)


def column(rows: np.ndarray, name: str) -> list[float]:
    return [float(x) for x in rows[:, FEATURES.index(name)]]


def test_features_reward_the_question_in_one_sentence() -> None:
    from rag.retrieval.lexical import analyze

    weights = {t: WEIGHTS.get(t, 1.0) for t in analyze(QUESTION)}
    rows = features(QUESTION, weights, [SCATTERED, TOGETHER])
    assert rows.shape == (2, len(FEATURES))
    assert column(rows, "coverage") == [1.0, 1.0]  # both hold every term somewhere
    scattered, together = column(rows, "sentence_coverage")
    assert together == 1.0 and scattered < 0.5
    assert column(rows, "trigrams")[1] > column(rows, "trigrams")[0]
    assert column(rows, "inverse_rank") == [1.0, 0.5]
    assert column(rows, "answer_type") == [0.0, 1.0]  # "quando": a date, "Mercoledì"
    assert column(rows, "title") == [0.0, 0.0]


def test_the_shipped_model_prefers_the_concentrated_candidate() -> None:
    from rag.retrieval.lexical import analyze

    model = shipped_model()
    assert model.features == FEATURES
    weights = {t: 1.0 for t in analyze(QUESTION)}
    scattered, together = rerank_scores(QUESTION, weights, [SCATTERED, TOGETHER], model)
    assert 0 < scattered < together < 1
    assert rerank_scores(QUESTION, weights, [], model) == []


def test_the_shipped_file_records_how_it_was_fitted() -> None:
    about = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert about["command"] == "python -m eval.fit_reranker"
    cv = about["cross_validation"]
    assert cv["questions"] >= 3000 and cv["folds"] == 4
    assert cv["reranked"]["hit@1"] > cv["first_stage"]["hit@1"]


def test_model_json_round_trip_and_feature_check() -> None:
    model = shipped_model()
    again = LinearModel.from_json(model.to_json(note="x"))
    assert np.allclose(again.weights, model.weights) and np.allclose(again.mean, model.mean)
    raw = json.loads(model.to_json())
    raw["features"] = ["fused"]
    with pytest.raises(ValueError, match="other features"):
        LinearModel.from_json(json.dumps(raw))


def synthetic(n: int, seed: int) -> list[Question]:
    """Questions whose relevant candidate is the one with a high 'title' feature, ranked
    anywhere by the first stage: a fitted model must learn to put it first."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        rows = rng.random((10, len(FEATURES)))
        relevant = np.zeros(10, dtype=bool)
        relevant[rng.integers(10)] = True
        rows[:, FEATURES.index("title")] = np.where(relevant, 0.9, 0.1) + rng.random(10) * 0.2
        out.append(Question(f"doc{i % 8}", rows, relevant))
    return out


def test_fit_learns_the_feature_that_separates_relevant_candidates() -> None:
    train, test = synthetic(200, 0), synthetic(100, 1)
    model = fit(train)
    assert int(np.argmax(model.weights)) == FEATURES.index("title")
    assert hits(test, model)["hit@1"] == 1.0
    assert hits(test, None)["hit@1"] < 0.3  # the first stage's order was random
    cv = cross_validate(train)
    assert cv["questions"] == 200 and cv["reranked"]["hit@1"] == 1.0  # type: ignore[index]


@pytest.mark.integration
def test_fitting_on_squad_uses_the_serving_candidates() -> None:
    """A sample of the dev half through the same first stage as the service."""
    qs = questions(load_set("squad-it"), load_settings(), limit=120)
    assert len(qs) == 120
    assert all(q.rows.shape[1] == len(FEATURES) and len(q.rows) <= 30 for q in qs)
    assert sum(bool(q.relevant.any()) for q in qs) > 100  # the evidence is mostly there
    cv = cross_validate(qs)
    assert cv["first_stage"]["hit@1"] > 0.5  # type: ignore[index]
