"""The learned re-ranker: its features, its model file, and fitting it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.datasets import load_set
from eval.fit_reranker import (
    EVIDENCE_BUDGET,
    InMemoryDense,
    Question,
    best_scores,
    chunk_sentences,
    cross_validate,
    evidence_floor,
    fit,
    hits,
    main,
    mean_rows,
    questions,
)
from rag.retrieval.dense import with_best_sentence
from rag.retrieval.rerank import (
    COSINE_FEATURES,
    FEATURES,
    WEIGHTS_FILE,
    Candidate,
    Cosines,
    LinearModel,
    features,
    logistic,
    rerank_scores,
    shipped_model,
    without_dense,
)
from rag.settings import load_settings
from vectorstore.documents import Chunk
from vectorstore.embeddings import LocalEmbedder

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


def test_the_dense_features_read_the_best_sentence_and_its_coverage_together() -> None:
    """The best sentence's cosine, the chunk vector's, and the best of coverage plus cosine
    in one sentence (a sentence the dense model does not know counts its coverage alone),
    with its gap to the best candidate's."""
    from dataclasses import replace

    from rag.retrieval.lexical import analyze

    weights = {t: WEIGHTS.get(t, 1.0) for t in analyze(QUESTION)}
    together = replace(
        TOGETHER,
        cosines=Cosines(
            0.8,
            0.75,
            (
                ("Mercoledì Putin ha ringraziato Kim Jong-un per i soldati.", 0.85),
                ("Poi è partito.", 0.9),
            ),
        ),
    )
    scattered = replace(SCATTERED, cosines=Cosines(0.7, 0.7, (("Putin parla.", 0.8),)))
    rows = features(QUESTION, weights, [scattered, together])
    assert column(rows, "sentence_dense") == pytest.approx([0.8, 0.9])
    assert column(rows, "chunk_dense") == pytest.approx([0.7, 0.75])
    first_of_scattered = sum(weights.get(t, 0) for t in set(analyze("Putin parla."))) / sum(
        weights.values()
    )
    assert column(rows, "coverage_dense") == pytest.approx([first_of_scattered + 0.8, 1.85])
    assert column(rows, "coverage_dense_gap") == pytest.approx([first_of_scattered - 1.05, 0.0])
    plain = features(QUESTION, weights, [TOGETHER])  # no dense model: coverage alone
    assert column(plain, "coverage_dense") == [1.0] and column(plain, "sentence_dense") == [0.0]


def test_the_shipped_model_prefers_the_concentrated_candidate() -> None:
    from rag.retrieval.lexical import analyze

    model = shipped_model()
    assert model.features == FEATURES
    weights = {t: 1.0 for t in analyze(QUESTION)}
    # without cosines (no dense retrieval): the dense features are left out
    scattered, together = rerank_scores(
        QUESTION, weights, [SCATTERED, TOGETHER], model, dense=False
    )
    assert 0 < scattered < together < 1
    assert rerank_scores(QUESTION, weights, [], model) == []
    # their cosines at 0 would sit far under the model's means: every candidate tied at 0
    assert rerank_scores(QUESTION, weights, [SCATTERED, TOGETHER], model) == pytest.approx(
        [0.0, 0.0], abs=1e-9
    )
    plain = features(QUESTION, weights, [SCATTERED, TOGETHER])
    rows = without_dense(plain, model)
    for name in COSINE_FEATURES:
        assert column(rows, name) == pytest.approx([model.mean[FEATURES.index(name)]] * 2)
    typical = model.mean[FEATURES.index("sentence_dense")]
    coverage = column(plain, "sentence_coverage")
    assert column(rows, "coverage_dense") == pytest.approx([c + typical for c in coverage])
    assert column(rows, "coverage_dense_gap") == pytest.approx([coverage[0] - 1.0, 0.0])
    assert column(rows, "sentence_coverage") == coverage


def test_the_shipped_file_records_how_it_was_fitted() -> None:
    about = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert about["command"] == "python -m eval.fit_reranker"
    cv = about["cross_validation"]
    assert cv["questions"] >= 3000 and cv["folds"] == 4
    assert cv["reranked"]["hit@1"] > cv["first_stage"]["hit@1"]
    # the evidence floor is the cross-validated one, at the budget
    assert 0.5 < shipped_model().abstain_below == cv["evidence_floor"]["abstain_below"] < 1
    assert cv["evidence_floor"]["answerable_abstained"] <= 2 * EVIDENCE_BUDGET
    assert shipped_model().model == "multilingual-e5-small"  # whose cosines it read


def test_model_json_round_trip_and_feature_check() -> None:
    model = shipped_model()
    again = LinearModel.from_json(model.to_json(note="x"))
    assert np.allclose(again.weights, model.weights) and np.allclose(again.mean, model.mean)
    assert (again.abstain_below, again.model) == (model.abstain_below, model.model)
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


def test_the_evidence_floor_is_the_budgets_quantile_of_the_answerable_best_scores() -> None:
    present = [0.5 + i / 2000 for i in range(1000)]  # 0.5 ... 0.9995
    assert evidence_floor(present, 0.001) == pytest.approx(float(np.quantile(present, 0.001)))
    assert sum(p < evidence_floor(present, 0.01) for p in present) == 10
    assert evidence_floor([]) == 0.0


def test_best_scores_with_and_without_the_evidence() -> None:
    """The best candidate's score among all, and among the ones not holding the evidence
    (a question without a relevant candidate counts in neither)."""
    width = len(FEATURES)
    model = LinearModel(FEATURES, np.zeros(width), np.ones(width), np.eye(width)[0])
    rows = np.zeros((3, len(FEATURES)))
    rows[:, 0] = [2.0, 0.0, -1.0]
    found = Question("d", rows, np.array([True, False, False]))
    none = Question("d", rows, np.array([False, False, False]))
    present, missing = best_scores([found, none], model)
    assert present == [pytest.approx(float(logistic(np.array([2.0]))[0]))]
    assert missing == [pytest.approx(0.5)]


def test_fit_learns_the_feature_that_separates_relevant_candidates() -> None:
    train, test = synthetic(200, 0), synthetic(100, 1)
    model = fit(train)
    assert int(np.argmax(model.weights)) == FEATURES.index("title")
    assert hits(test, model)["hit@1"] == 1.0
    assert hits(test, None)["hit@1"] < 0.3  # the first stage's order was random
    cv = cross_validate(train)
    assert cv["questions"] == 200 and cv["reranked"]["hit@1"] == 1.0  # type: ignore[index]
    # Out of fold, the floor keeps the answerable questions and abstains on most of the
    # same questions with their relevant candidate (the only one with a high title) removed.
    floor = cv["evidence_floor"]  # type: ignore[index]
    assert floor["answerable_abstained"] <= 0.01 and floor["evidence_missing_abstained"] > 0.5


@pytest.mark.integration
def test_fitting_on_squad_uses_the_serving_candidates() -> None:
    """A sample of the dev half through the same first stage as the service."""
    qs = questions(load_set("squad-it"), load_settings(), limit=120)
    assert len(qs) == 120
    assert all(q.rows.shape[1] == len(FEATURES) and len(q.rows) <= 30 for q in qs)
    assert sum(bool(q.relevant.any()) for q in qs) > 100  # the evidence is mostly there
    cv = cross_validate(qs)
    assert cv["first_stage"]["hit@1"] > 0.5  # type: ignore[index]


def test_a_chunk_scores_with_its_best_sentence() -> None:
    """The service's dense score (and `--chunk-score sentences`'s): the mean of the chunk's
    cosine and its best sentence's; a chunk without sentences keeps its own."""
    scores = with_best_sentence(
        np.array([0.5, 0.6, 0.7]), np.array([0.9, 0.4, 0.5, 0.3]), np.array([0, 0, 1, 1])
    )
    assert scores.tolist() == pytest.approx([0.7, 0.55, 0.7])
    means = mean_rows(np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]]), np.array([0, 0, 1]), 3)
    expected = [2**-0.5, 2**-0.5, 0.6, 0.8, 0.0, 0.0]  # the third chunk had no row
    assert means.ravel().tolist() == pytest.approx(expected)


def test_chunk_sentences_are_the_answerers_and_a_chunk_without_one_counts_whole() -> None:
    chunks = [
        Chunk("a", 0, 0, 48, "Putin ha parlato a lungo. Kim ha ascoltato tutto."),
        Chunk("b", 0, 0, 12, "senza fine e"),
    ]
    texts, owner = chunk_sentences(chunks)
    assert texts == ["Putin ha parlato a lungo.", "Kim ha ascoltato tutto.", "senza fine e"]
    assert owner == [0, 0, 1]


def scores(dense: InMemoryDense, question: str, chunks: list[Chunk]) -> list[float]:
    return [c.score for c in dense.cosines(question, chunks)]


@pytest.mark.integration
def test_sentence_scores_use_each_sentence_embedded_alone(embedder: LocalEmbedder) -> None:
    """With the real model: the chunk whose one sentence answers gains on a chunk that only
    shares its topic, and each score is the documented mean."""
    answer = (
        "Il mercato del pesce apre ogni mattina alle sei. Le barche rientrano all'alba. "
        "Il sindaco ha inaugurato il nuovo ponte sul fiume martedì scorso."
    )
    topic = "Il ponte sul fiume è stato discusso a lungo in consiglio comunale."
    chunks = [Chunk("a", 0, 0, len(answer), answer), Chunk("b", 0, 0, len(topic), topic)]
    question = "Chi ha inaugurato il nuovo ponte?"
    plain = InMemoryDense(chunks, embedder, chunk_score="chunk")
    mixed = InMemoryDense(chunks, embedder, chunk_score="sentences")
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    sentences = np.asarray(embedder.embed_documents(chunk_sentences(chunks)[0]))
    best = max(float(v @ query) for v in sentences[:3])
    expected = (plain.cosines(question, chunks)[0].score + best) / 2
    assert mixed.cosines(question, chunks)[0].score == pytest.approx(expected, abs=1e-5)
    gain = np.subtract(scores(mixed, question, chunks), scores(plain, question, chunks))
    assert gain[0] > gain[1]
    # the re-ranker's detail: the chunk's own cosine and each sentence's, by its text
    first = mixed.cosines(question, chunks)[0]
    assert first.chunk == pytest.approx(float(mixed.vectors[0] @ query), abs=1e-5)
    assert [t for t, _ in first.sentences] == chunk_sentences(chunks)[0][:3]
    assert max(c for _, c in first.sentences) == pytest.approx(best, abs=1e-5)
    assert plain.cosines(question, chunks)[0].sentences == ()  # no sentence vectors
    assert [c.doc_id for c, _ in mixed.search(question, 1)] == ["a"]
    means = InMemoryDense(chunks, embedder, chunk_score="sentence-mean")
    assert np.linalg.norm(means.vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    found = means.search(question, 2)  # the service's score, as DenseScorer.search ranks it
    assert [c.doc_id for c, _ in found] == ["a", "b"] and found[0][1] > found[1][1]
    assert [s for _, s in found] == pytest.approx(scores(means, question, chunks))
    with pytest.raises(ValueError, match="unknown chunk score"):
        InMemoryDense(chunks, embedder, chunk_score="tokens")


def test_a_chunk_score_the_service_does_not_use_is_measured_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Weights fitted on another dense score would not match the service's: refused."""
    monkeypatch.setattr("sys.argv", ["fit_reranker", "--chunk-score", "chunk"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "add --check" in capsys.readouterr().err
