"""Fit the re-ranker's weights (rag/retrieval/reranker.json) on the SQuAD-it dev half.

    .venv/bin/python -m eval.fit_reranker            # fit, cross-validate, write the weights
    .venv/bin/python -m eval.fit_reranker --check    # cross-validate only

Each question's first-stage candidates (the serving code path: rag.retrieval.hybrid's
first_stage, BM25 fused with the dense neighbours at the configured dense weight) get
rag.retrieval.rerank's features, the question's cosine to each among them; a candidate is
relevant when it holds the gold evidence. The chunks are embedded in memory with the
configured model (exact nearest neighbours, where the store's HNSW index is approximate).
A listwise logistic regression (the softmax over each question's candidates, which should
put its weight on the relevant ones) gives the weights. Cross-validation holds out whole
articles, four folds, so the figures say how the weights do on articles they never saw.

The same folds fit the evidence floor written with the weights (`abstain_below`, read by
rag.answering.quoting): the score of a question's best candidate under which an Italian
question is not answered. It is the EVIDENCE_BUDGET quantile of the answerable questions'
best scores, out of fold; the figures say what share of the same questions with their
relevant candidates removed (the evidence missing, the words still there) it abstains on.

A chunk's dense score is the service's (rag.retrieval.dense.chunk_score over the vectors
ingest stores: vectorstore.sentence_vectors). `--chunk-score` measures (with `--check`)
the ones it replaced: the chunk text's own vector ("chunk"), or that vector's cosine with
the best sentence's ("sentences", which costs a second embedding of every text at ingest):

    .venv/bin/python -m eval.fit_reranker --check --chunk-score chunk
    .venv/bin/python -m eval.fit_reranker --check --chunk-score sentences
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from eval import metrics as m
from eval.datasets import EvalSet, load_set
from rag.answering.extractive import question_terms
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.dense import SEARCH_POOL, with_best_sentence
from rag.retrieval.hybrid import RERANK_DEPTH, conversation_queries, first_stage
from rag.retrieval.rerank import (
    FEATURES,
    WEIGHTS_FILE,
    Cosines,
    LinearModel,
    features,
    logistic,
)
from rag.service import embedder_from_settings
from rag.settings import Settings, load_settings
from vectorstore.documents import Chunk
from vectorstore.embeddings import LocalEmbedder
from vectorstore.ingest import chunk_article
from vectorstore.sentence_vectors import chunk_sentences as sentences_of

L2 = 1e-4
FOLDS = 4
# The share of the dev half's answerable questions the evidence floor may turn into
# abstentions, out of fold: one in a thousand (0.5 % and 1 % lost seeds questions, README).
EVIDENCE_BUDGET = 0.001
# How a chunk's dense score is made: "sentence-mean" (the service's), the mean of its
# vector's cosine and its best sentence's, its vector the mean of its sentences' and
# searched as DenseScorer.search does (the nearest k x SEARCH_POOL by that vector,
# re-scored); "chunk", the cosine of the chunk text's own vector (before stop 31);
# "sentences", the mean of that and the best sentence's cosine, searched exactly.
SERVICE_SCORE = "sentence-mean"
CHUNK_SCORES = (SERVICE_SCORE, "chunk", "sentences")


@dataclass(frozen=True)
class Question:
    doc_id: str  # the article the question is about: folds hold out whole articles
    rows: np.ndarray  # one row of features per candidate, first-stage order
    relevant: np.ndarray  # 1 where the candidate holds the gold evidence


class InMemoryDense:
    """Exact cosine search over the chunks' vectors, computed once with `embedder`; with a
    `chunk_score` other than "chunk", over scores from their sentences' vectors too."""

    def __init__(
        self,
        chunks: list[Chunk],
        embedder: LocalEmbedder,
        batch: int = 64,
        chunk_score: str = SERVICE_SCORE,
    ) -> None:
        if chunk_score not in CHUNK_SCORES:
            raise ValueError(f"unknown chunk score {chunk_score!r}: use one of {CHUNK_SCORES}")
        self.chunks = chunks
        self.embedder = embedder
        self.chunk_score = chunk_score
        self.position = {c.chunk_id: n for n, c in enumerate(chunks)}
        self._queries: dict[str, np.ndarray] = {}
        self.owner = np.zeros(0, dtype=np.int64)  # the chunk of each sentence vector
        self.sentence_texts: list[str] = []
        self.sentence_vectors = np.zeros((0, 0), dtype=np.float32)
        if chunk_score != "chunk":
            texts, owner = chunk_sentences(chunks)
            self.sentence_texts = texts
            self.owner = np.asarray(owner, dtype=np.int64)
            self.sentence_vectors = _embedded(embedder, texts, batch)
        if chunk_score == "sentence-mean":
            self.vectors = mean_rows(self.sentence_vectors, self.owner, len(chunks))
        else:
            self.vectors = _embedded(embedder, [c.text for c in chunks], batch)

    def embed_queries(self, texts: Sequence[str], batch: int = 64) -> None:
        """Embed many questions at once (one call per question is several times slower)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._queries]
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            for text, vector in zip(part, self.embedder.embed_queries(part), strict=True):
                self._queries[text] = np.asarray(vector, dtype=np.float32)

    def query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        return self._queries[text]

    def scores(self, text: str) -> np.ndarray:
        """Every chunk's dense score for `text`, as `chunk_score` makes it."""
        query = self.query(text)
        cosines = self.vectors @ query
        if self.chunk_score == "chunk":
            return cosines
        return with_best_sentence(cosines, self.sentence_vectors @ query, self.owner)

    def search(self, text: str, k: int) -> list[tuple[Chunk, float]]:
        found = self.scores(text)
        if self.chunk_score == SERVICE_SCORE:  # Chroma's nearest by vector, re-scored
            pool = np.argsort(-(self.vectors @ self.query(text)))[: k * SEARCH_POOL]
            best = pool[np.argsort(-found[pool], kind="stable")][:k]
        else:
            best = np.argsort(-found)[:k]
        return [(self.chunks[i], float(found[i])) for i in best]

    def cosines(self, text: str, chunks: Sequence[Chunk]) -> list[Cosines]:
        """What DenseScorer.candidate_cosines gives the service's re-ranker, from memory."""
        query = self.query(text)
        found = self.scores(text)
        sentence_cosines = self.sentence_vectors @ query if len(self.owner) else np.zeros(0)
        out = []
        for c in chunks:
            at = self.position[c.chunk_id]
            mine = np.flatnonzero(self.owner == at)
            out.append(
                Cosines(
                    float(found[at]),
                    float(self.vectors[at] @ query),
                    tuple((self.sentence_texts[i], float(sentence_cosines[i])) for i in mine),
                )
            )
        return out


def _embedded(embedder: LocalEmbedder, texts: Sequence[str], batch: int) -> np.ndarray:
    rows = [embedder.embed_documents(list(texts[i : i + batch]))
            for i in range(0, len(texts), batch)]  # fmt: skip
    return np.asarray([v for part in rows for v in part], dtype=np.float32)


def chunk_sentences(chunks: Sequence[Chunk]) -> tuple[list[str], list[int]]:
    """Each chunk's sentences (as the answerer cuts them) and the position of their chunk;
    a chunk with no sentence counts as one."""
    texts: list[str] = []
    owner: list[int] = []
    for n, chunk in enumerate(chunks):
        found = sentences_of(chunk.text)
        texts.extend(found)
        owner.extend([n] * len(found))
    return texts, owner


def mean_rows(vectors: np.ndarray, owner: np.ndarray, groups: int) -> np.ndarray:
    """The unit-length mean of each group's rows (`owner[i]`: the group of row i)."""
    sums = np.zeros((groups, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, owner, vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def questions(
    evalset: EvalSet,
    settings: Settings,
    limit: int | None = None,
    embedder: LocalEmbedder | None = None,
    chunk_score: str = SERVICE_SCORE,
) -> list[Question]:
    """Every answerable question's candidates and labels, as the service would rank them
    (with another `chunk_score`, as it would with that dense score)."""
    embedder = embedder or embedder_from_settings(settings)
    chunks = [
        c
        for a in evalset.articles
        for c in chunk_article(a, embedder, settings.chunk_tokens, settings.chunk_overlap)
    ]
    corpus = LexicalCorpus.build(chunks)
    dense = (
        InMemoryDense(chunks, embedder, chunk_score=chunk_score)
        if settings.dense_weight > 0
        else None
    )
    items = [i for i in evalset.items if i.answerable and not i.history]
    if limit is not None:
        items = random.Random(0).sample(items, min(limit, len(items)))
    if dense:
        dense.embed_queries([i.question for i in items])
    out = []
    for item in items:
        stage = first_stage(
            conversation_queries(item.question, []),
            corpus,
            dense.search if dense else None,
            settings.candidates,
            settings.dense_weight,
        )
        top = [c for c, _ in stage.fused[:RERANK_DEPTH]]
        pool = stage.candidates(RERANK_DEPTH, dense.cosines(item.question, top) if dense else ())
        weights = question_terms(item.question, [], corpus.index)
        needles = [n for n in (m.normalize_ws(e) for e in item.evidence) if n]
        relevant = [any(n in m.normalize_ws(c.text) for n in needles) for c in pool]
        out.append(
            Question(item.doc_id or "", features(item.question, weights, pool), np.array(relevant))
        )
    return out


def fit(train: Sequence[Question]) -> LinearModel:
    """Listwise logistic regression: the softmax of each question's candidates' sums puts
    as much weight as it can on its relevant ones (L-BFGS, deterministic). It replaced the
    pairwise loss (every relevant candidate against every other, which weighs a question by
    its number of pairs): with stop 39's dense features, cross-validated hit@1 0.827
    against the pairwise 0.8215 (README, stop 39)."""
    rows = np.vstack([q.rows for q in train if len(q.rows)])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    groups = [
        ((q.rows - mean) / scale, q.relevant)
        for q in train
        if 0 < q.relevant.sum() < len(q.relevant)
    ]

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = 0.0, np.zeros_like(weights)
        for z, relevant in groups:
            sums = z @ weights
            p = np.exp(sums - sums.max())
            p /= p.sum()
            held = p[relevant].sum()
            total -= np.log(held + 1e-12)
            gradient -= (p[relevant] @ z[relevant]) / (held + 1e-12) - p @ z
        return (
            total / len(groups) + L2 * weights @ weights,
            gradient / len(groups) + 2 * L2 * weights,
        )

    found = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B")
    return LinearModel(FEATURES, mean, scale, np.asarray(found.x))


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


def best_scores(qs: Sequence[Question], model: LinearModel) -> tuple[list[float], list[float]]:
    """The score of each question's best candidate, as the service ranks them: among all of
    them when a relevant one is there (an answerable question), and among the others (the
    same question with its evidence missing)."""
    present: list[float] = []
    missing: list[float] = []
    for q in qs:
        if not q.relevant.any():
            continue
        scores = logistic(model.score(q.rows))
        present.append(float(scores.max()))
        if (~q.relevant).any():
            missing.append(float(scores[~q.relevant].max()))
    return present, missing


def evidence_floor(present: Sequence[float], budget: float = EVIDENCE_BUDGET) -> float:
    """The best-candidate score under which `budget` of the answerable questions fall."""
    return float(np.quantile(present, budget)) if len(present) else 0.0


def cross_validate(qs: Sequence[Question], folds: int = FOLDS) -> dict[str, object]:
    """First stage against re-ranked, each fold's model scored on the articles it never
    saw; the evidence floor from those folds' best scores, and what it abstains on."""
    docs = sorted({q.doc_id for q in qs})
    random.Random(0).shuffle(docs)
    first = {"hit@1": 0.0, "hit@4": 0.0}
    reranked = dict(first)
    present: list[float] = []
    missing: list[float] = []
    for f in range(folds):
        test_docs = set(docs[f::folds])
        model = fit([q for q in qs if q.doc_id not in test_docs])
        test = [q for q in qs if q.doc_id in test_docs]
        for totals, ranker in ((first, None), (reranked, model)):
            for key, value in hits(test, ranker).items():
                totals[key] += value * len(test) / len(qs)
        with_evidence, without = best_scores(test, model)
        present += with_evidence
        missing += without
    floor = evidence_floor(present)
    return {
        "questions": len(qs),
        "folds": folds,
        "first_stage": {k: round(v, 3) for k, v in first.items()},
        "reranked": {k: round(v, 3) for k, v in reranked.items()},
        "evidence_floor": {
            "abstain_below": round(floor, 4),
            "answerable_abstained": round(float(np.mean(np.array(present) < floor)), 4)
            if present
            else 0.0,
            "evidence_missing_abstained": round(float(np.mean(np.array(missing) < floor)), 3)
            if missing
            else 0.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="cross-validate only")
    parser.add_argument("--limit", type=int, default=None, help="a sample of N questions")
    parser.add_argument(
        "--chunk-score",
        choices=CHUNK_SCORES,
        default=SERVICE_SCORE,
        help=f"the chunks' dense score (other than {SERVICE_SCORE!r}: with --check only)",
    )
    args = parser.parse_args()
    if args.chunk_score != SERVICE_SCORE and not args.check:
        parser.error(
            f"--chunk-score {args.chunk_score} measures a dense score the service does not use:"
            " add --check (weights fitted on it would not match the service's scores)"
        )
    settings = load_settings()
    qs = questions(load_set("squad-it"), settings, args.limit, chunk_score=args.chunk_score)
    cv = cross_validate(qs)
    print(f"cross-validated over {cv['questions']} questions: {cv}")
    if args.check:
        return
    floor = cv["evidence_floor"]["abstain_below"]  # type: ignore[index]
    fitted = embedder_from_settings(settings).name  # the cosines its dense features were
    model = dataclasses.replace(fit(qs), abstain_below=float(floor), model=fitted)
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
