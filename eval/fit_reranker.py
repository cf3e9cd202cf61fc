"""Fit the re-ranker's weights (rag/retrieval/reranker.json) on the SQuAD-it dev half.

    .venv/bin/python -m eval.fit_reranker            # fit, cross-validate, write the weights
    .venv/bin/python -m eval.fit_reranker --check    # cross-validate only

Each question's first-stage candidates (the serving code path: rag.retrieval.first_stage)
get rag.retrieval.rerank's features; a candidate is relevant when it holds the gold evidence.
A pairwise logistic regression (every relevant candidate against every other of the
same question) gives the weights. Cross-validation holds out whole articles, four
folds, so the figures say how the weights do on articles they never saw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eval import metrics as m
from eval.datasets import EvalSet, load_set
from rag.answering.extractive import question_terms
from rag.retrieval.hybrid import RERANK_DEPTH, LexicalCorpus, conversation_queries, first_stage
from rag.retrieval.rerank import FEATURES, WEIGHTS_FILE, LinearModel, features
from rag.settings import Settings, load_settings
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.ingest import chunk_article

L2 = 1e-3
STEPS = 300
LEARNING_RATE = 0.5
FOLDS = 4


@dataclass(frozen=True)
class Question:
    doc_id: str  # the article the question is about: folds hold out whole articles
    rows: np.ndarray  # one row of features per candidate, first-stage order
    relevant: np.ndarray  # 1 where the candidate holds the gold evidence


def questions(evalset: EvalSet, settings: Settings, limit: int | None = None) -> list[Question]:
    """Every answerable question's candidates and labels, as the service would rank them."""
    embedder = LocalEmbedder(bundled_model_path())  # only its tokenizer: chunk sizes
    chunks = [
        c
        for a in evalset.articles
        for c in chunk_article(a, embedder, settings.chunk_tokens, settings.chunk_overlap)
    ]
    corpus = LexicalCorpus.build(chunks)
    items = [i for i in evalset.items if i.answerable and not i.history]
    if limit is not None:
        items = random.Random(0).sample(items, min(limit, len(items)))
    out = []
    for item in items:
        stage = first_stage(
            conversation_queries(item.question, []), corpus, None, settings.candidates, 0.0
        )
        pool = stage.candidates(RERANK_DEPTH)
        weights = question_terms(item.question, [], corpus.index)
        needles = [n for n in (m.normalize_ws(e) for e in item.evidence) if n]
        relevant = [any(n in m.normalize_ws(c.text) for n in needles) for c in pool]
        out.append(
            Question(item.doc_id or "", features(item.question, weights, pool), np.array(relevant))
        )
    return out


def fit(train: Sequence[Question]) -> LinearModel:
    """Pairwise logistic regression by gradient descent (deterministic, no dependencies)."""
    rows = np.vstack([q.rows for q in train if len(q.rows)])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    pairs = []
    for q in train:
        if 0 < q.relevant.sum() < len(q.relevant):
            z = (q.rows - mean) / scale
            good, bad = z[q.relevant], z[~q.relevant]
            pairs.append((good[:, None, :] - bad[None, :, :]).reshape(-1, z.shape[1]))
    diffs = np.vstack(pairs)
    weights = np.zeros(len(FEATURES))
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(diffs @ weights, -30, 30)))
        gradient = -diffs.T @ (1.0 - p) / len(diffs) + L2 * weights
        weights -= LEARNING_RATE * gradient
    return LinearModel(FEATURES, mean, scale, weights)


def hits(qs: Sequence[Question], model: LinearModel | None) -> dict[str, float]:
    """hit@1 and hit@4 over the candidates, as ranked by `model` (None: first stage)."""
    h1 = h4 = 0
    for q in qs:
        if not len(q.rows):
            continue
        order = np.arange(len(q.rows)) if model is None else np.argsort(-model.score(q.rows))
        h1 += bool(q.relevant[order[:1]].any())
        h4 += bool(q.relevant[order[:4]].any())
    return {"hit@1": h1 / max(1, len(qs)), "hit@4": h4 / max(1, len(qs))}


def cross_validate(qs: Sequence[Question], folds: int = FOLDS) -> dict[str, object]:
    """First stage against re-ranked, each fold's model scored on the articles it never saw."""
    docs = sorted({q.doc_id for q in qs})
    random.Random(0).shuffle(docs)
    first = {"hit@1": 0.0, "hit@4": 0.0}
    reranked = dict(first)
    for f in range(folds):
        test_docs = set(docs[f::folds])
        model = fit([q for q in qs if q.doc_id not in test_docs])
        test = [q for q in qs if q.doc_id in test_docs]
        for totals, ranker in ((first, None), (reranked, model)):
            for key, value in hits(test, ranker).items():
                totals[key] += value * len(test) / len(qs)
    return {
        "questions": len(qs),
        "folds": folds,
        "first_stage": {k: round(v, 3) for k, v in first.items()},
        "reranked": {k: round(v, 3) for k, v in reranked.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="cross-validate only")
    parser.add_argument("--limit", type=int, default=None, help="a sample of N questions")
    args = parser.parse_args()
    settings = load_settings()
    qs = questions(load_set("squad-it"), settings, args.limit)
    cv = cross_validate(qs)
    print(f"cross-validated over {cv['questions']} questions: {cv}")
    if args.check:
        return
    model = fit(qs)
    WEIGHTS_FILE.write_text(
        model.to_json(
            fitted_on=f"SQuAD-it dev half, {len(qs)} questions",
            fitted=dt.date.today().isoformat(),
            command="python -m eval.fit_reranker",
            cross_validation=cv,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
