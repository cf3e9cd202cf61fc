"""Run an evaluation set through newsrag (the same service the API uses) and the baselines."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from eval import metrics as m
from eval.baselines import (
    RETRIEVE,
    BaselineResult,
    BM25Baseline,
    TutorialBaseline,
    plain_tokens,
)
from eval.baselines import tutorial_chunks as make_tutorial_chunks
from eval.datasets import EvalItem, EvalSet
from rag.answering.citations import is_verbatim
from rag.retrieval.lexical import analyze
from rag.service import NewsQA

SYSTEM_LABELS = {
    "newsrag": "newsrag (stemmed BM25 + re-ranker, passages, extractive)",
    "langchain_tutorial": "LangChain tutorial (1000/200, dense k=4)",
    "bm25_plain": "plain BM25 (same chunks)",
    "bm25_stemmed": "Italian-stemmed BM25 (same chunks)",
}
_MARKER = re.compile(r"\s*\[\d+\]")
# The figures the abstention threshold moves: one point of the curve per threshold.
CURVE_METRICS = (
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
    "answer_contains",
)
CURVE_STEP = 0.05
CURVE_TOP = 0.5


@dataclass(frozen=True)
class Outcome:
    """What one system did with one item, in a shape every metric can read."""

    answer: str
    abstained: bool
    retrieved: list[dict[str, Any]]  # doc_id, title, text; best first
    citations: list[tuple[str, str, int, int]]  # doc_id, quote, start, end
    latency_ms: float
    span: str | None = None  # the words of the answer that answer the question, if marked
    history: list[dict[str, str]] | None = None  # the conversation as asked (live_history)


def answer_text(answer: str) -> str:
    """The answer without its `[n]` citation markers."""
    return _MARKER.sub("", answer).strip()


def live_history(service: NewsQA, history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation before an item's question as a user has it: a user turn with no
    assistant turn after it is asked first (with the turns before it), and the service's own
    answer becomes the next turn. A written assistant turn is kept as it is, so a set can
    fix the previous answer (`followups`) or let it come from the service (`followups-blind`:
    a wrong or missing first answer then costs the follow-up too, as it would in the chat)."""
    lived: list[dict[str, str]] = []
    for i, message in enumerate(history):
        lived.append(message)
        unanswered = i + 1 == len(history) or history[i + 1]["role"] != "assistant"
        if message["role"] == "user" and unanswered:
            answer = service.ask(message["content"], lived[:-1], top_k=RETRIEVE)
            lived.append({"role": "assistant", "content": answer.answer})
    return lived


def ours(service: NewsQA) -> Callable[[EvalItem], Outcome]:
    def run(item: EvalItem) -> Outcome:
        history = live_history(service, item.history)
        t0 = time.perf_counter()
        a = service.ask(item.question, history, top_k=RETRIEVE)
        ms = (time.perf_counter() - t0) * 1000
        return Outcome(
            a.answer,
            a.abstained,
            [{"doc_id": s.doc_id, "title": s.title, "text": s.text} for s in a.sources],
            [(c.doc_id, c.quote, c.start, c.end) for c in a.citations],
            ms,
            next((c.span.text for c in a.citations if c.span), None),
            history,
        )

    return run


def baseline(system: Callable[[str], BaselineResult]) -> Callable[[EvalItem], Outcome]:
    def run(item: EvalItem) -> Outcome:
        t0 = time.perf_counter()
        r = system(item.question)
        ms = (time.perf_counter() - t0) * 1000
        retrieved = [{"doc_id": c.doc_id, "title": c.title, "text": c.text} for c in r.retrieved]
        return Outcome(r.answer, False, retrieved, [r.citation] if r.citation else [], ms)

    return run


def record(item: EvalItem, out: Outcome, bodies: dict[str, str]) -> dict[str, Any]:
    """Per-item scores; `failure` says in a few words what went wrong, if anything."""
    text = answer_text(out.answer) if not out.abstained else ""
    rank = m.first_hit_rank([r["text"] for r in out.retrieved[:RETRIEVE]], item.evidence)
    correct = item.answerable and not out.abstained and m.contains_answer(text, item.gold_answers)
    references = [item.answer] if item.answer else item.gold_answers
    valid = [is_verbatim(q, bodies.get(d, ""), s, e) for d, q, s, e in out.citations]
    gold_spans = m.find_spans(bodies.get(item.doc_id or "", ""), item.evidence)
    # A citation of another article is an empty span: it overlaps no gold evidence.
    cited = [(s, e) if d == item.doc_id else (0, 0) for d, _, s, e in out.citations]
    failure = None
    if not all(valid):
        failure = "invalid citation"
    elif item.answerable and out.abstained:
        failure = "abstained on answerable"
    elif item.answerable and not correct:
        failure = "wrong answer" + ("" if rank else " (evidence not retrieved)")
    elif not item.answerable and not out.abstained:
        failure = "missed abstention"
    return {
        "id": item.id,
        "question": item.question,
        "history": out.history if out.history is not None else item.history,
        "type": item.type,
        "tags": item.tags,
        "answerable": item.answerable,
        "gold_answers": item.gold_answers,
        "answer": out.answer,
        "abstained": out.abstained,
        "rank": rank,
        "correct": correct,
        "f1": m.token_f1(text, references) if item.answerable else 0.0,
        "citations": len(out.citations),
        "citations_valid": all(valid),
        "valid_citations": sum(valid),
        "has_evidence": bool(item.evidence),
        "citation_precision": m.citation_precision(cited, gold_spans) if gold_spans else None,
        "span": out.span,
        "span_contains": bool(out.span) and m.contains_answer(out.span or "", item.gold_answers),
        "span_exact": bool(out.span) and m.exact_match(out.span or "", item.gold_answers),
        "span_f1": m.token_f1(out.span, item.gold_answers) if out.span else None,
        "latency_ms": round(out.latency_ms, 3),
        "retrieved": [{**r, "text": r["text"][:300]} for r in out.retrieved[:3]],
        "failure": failure,
    }


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Every figure of one system, from its records."""
    answerable = [r for r in records if r["answerable"]]
    ranks = [r["rank"] for r in answerable if r["has_evidence"]]
    # A follow-up is any question asked within a conversation, answerable or not.
    followups = [r for r in records if r["history"]]
    n_citations = sum(r["citations"] for r in records)
    precisions = [r["citation_precision"] for r in records if r["citation_precision"] is not None]
    abstention = m.abstention_scores(
        [r["abstained"] for r in records], [r["answerable"] for r in records]
    )
    latencies = [r["latency_ms"] for r in records]
    answered = [r for r in answerable if not r["abstained"]]
    spans = [r for r in answered if r.get("span")]

    def ratio(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "hit@1": m.hit_at_k(ranks, 1) if ranks else None,
        "hit@4": m.hit_at_k(ranks, 4) if ranks else None,
        "hit@10": m.hit_at_k(ranks, 10) if ranks else None,
        "mrr": m.mean_reciprocal_rank(ranks) if ranks else None,
        "answer_contains": ratio([r["correct"] for r in answerable]),
        "token_f1": m.mean([r["f1"] for r in answerable]),
        "citation_validity": (
            sum(r["valid_citations"] for r in records) / n_citations if n_citations else None
        ),
        "citation_precision": m.mean(precisions),
        "abstention_precision": abstention["precision"],
        "abstention_recall": abstention["recall"],
        "false_abstention_rate": abstention["false_abstention_rate"],
        # A follow-up is right when answered with the gold answer, or, when the articles
        # do not answer it, when the system says so.
        "followup_accuracy": ratio(
            [r["correct"] if r["answerable"] else r["abstained"] for r in followups]
        ),
        # The marked span (rag.answering.span), over the answered items that carry one, next
        # to the whole answer's figure on the same items.
        "span_rate": ratio([bool(r.get("span")) for r in answered]),
        "span_contains": ratio([r["span_contains"] for r in spans]),
        "span_exact": ratio([r["span_exact"] for r in spans]),
        "span_f1": m.mean([r["span_f1"] for r in spans]),
        "span_answer_contains": ratio([r["correct"] for r in spans]),
        "span_chars": m.mean([float(len(r["span"])) for r in spans]),
        "latency_p50_ms": m.percentile(latencies, 50),
        "latency_p95_ms": m.percentile(latencies, 95),
    }


def versions() -> dict[str, str]:
    names = ["newsrag", "chromadb", "langchain-core", "sentence-transformers", "torch", "bm25s"]
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_baselines(service: NewsQA, evalset: EvalSet) -> dict[str, Callable[[EvalItem], Outcome]]:
    """The three baselines over the set's corpus (or the store's articles), built now."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from vectorstore.clients import chroma_client

    articles = evalset.articles or [a.article for a in service.store.get_articles().values()]
    chunks = make_tutorial_chunks(articles)
    embeddings = HuggingFaceEmbeddings(
        model_name=str(service.embedder.model_path),
        model_kwargs={"device": "cpu", "local_files_only": True},
    )
    client = chroma_client(service.settings.data_dir / "baselines")
    with contextlib.suppress(Exception):  # absent on a first run; clients raise differently
        client.delete_collection("baseline_tutorial")
    return {
        "langchain_tutorial": baseline(TutorialBaseline.build(chunks, embeddings, client)),
        "bm25_plain": baseline(BM25Baseline(chunks, plain_tokens)),
        "bm25_stemmed": baseline(BM25Baseline(chunks, analyze)),
    }


def curve_thresholds(configured: float) -> list[float]:
    """0 to CURVE_TOP in CURVE_STEPs plus the configured value (kept exact, so it can be found)."""
    grid = [round(i * CURVE_STEP, 4) for i in range(round(CURVE_TOP / CURVE_STEP) + 1)]
    return sorted({configured, *(t for t in grid if abs(t - configured) > 1e-9)})


def abstention_curve(
    service: NewsQA,
    items: Sequence[EvalItem],
    thresholds: Sequence[float] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """newsrag re-run over `items` at each `abstain_below` threshold (default: `curve_thresholds`
    around the configured one), so the threshold can be chosen from measured trade-offs.

    The service's settings are swapped for each run and always put back, even on error.
    """
    original = service.settings
    configured = original.abstain_below
    points = sorted(set(thresholds)) if thresholds is not None else curve_thresholds(configured)
    bad = [t for t in points if not 0.0 <= t <= 1.0]  # model_copy does not validate
    if bad:
        raise ValueError(f"abstention thresholds must be in [0, 1], got {bad}")
    bodies = {d: a.article.body for d, a in service.store.get_articles().items()}
    curve: list[dict[str, Any]] = []
    try:
        for t in tqdm(points, desc="abstention curve", unit="threshold", disable=not progress):
            service.settings = original.model_copy(update={"abstain_below": t})
            run = ours(service)
            records = [record(item, run(item), bodies) for item in items]
            figures = summarise(records)
            curve.append(
                {
                    "threshold": t,
                    "configured": t == configured,
                    "abstained": sum(r["abstained"] for r in records),
                    **{k: figures[k] for k in CURVE_METRICS},
                }
            )
    finally:
        service.settings = original
    return curve


def evaluate(
    service: NewsQA,
    evalset: EvalSet,
    items: Sequence[EvalItem],
    with_baselines: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Ingest the set's corpus, run every system on every item, and gather all figures."""
    if evalset.articles:
        service.ingest_articles(evalset.articles, progress=progress)
    service.warm_up()
    bodies = {d: a.article.body for d, a in service.store.get_articles().items()}
    systems = {"newsrag": ours(service)}
    if with_baselines:
        systems.update(build_baselines(service, evalset))
    records: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for item in tqdm(items, desc="evaluating", unit="question", disable=not progress):
        for name, run in systems.items():  # interleaved, so machine noise hits all alike
            records[name].append(record(item, run(item), bodies))
    s = service.settings
    results: dict[str, Any] = {
        "dataset": evalset.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "items": len(items),
        "settings": {
            k: str(v) if not isinstance(v, int | float) else v for k, v in s.model_dump().items()
        },
        "versions": versions(),
        "systems": {
            name: {"label": SYSTEM_LABELS[name], "metrics": summarise(recs)}
            for name, recs in records.items()
        },
        "records": records,
    }
    if any(not item.answerable for item in items):  # without them abstention has no curve
        results["abstention_curve"] = abstention_curve(service, items, progress=progress)
    return results
