"""The answering span measured alone: each typed question of the SQuAD-it dev half with its
gold sentence given, so that the figure says how well `rag.answering.span` picks the words
inside a right sentence, apart from whether the answerer chose that sentence.

    .venv/bin/python -m eval.span_report

Weights are 1.0 per question term (the answerer weighs them by IDF); the normalisation of
"contains" and "exact" is the evaluation's (eval.metrics).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import SQUAD_IT
from eval.metrics import contains_answer, exact_match
from rag.answering.span import answer_span, span_kind
from rag.retrieval.lexical import analyze
from rag.retrieval.passages import sentence_spans


@dataclass(frozen=True)
class SpanCase:
    """A typed question, the sentence holding its gold answer and the gold answers."""

    question: str
    kind: str
    sentence: str
    golds: tuple[str, ...]


def gold_sentence_cases(path: Path = SQUAD_IT) -> Iterator[SpanCase]:
    """Each question of the file that asks for a kind of words (span_kind), with the
    sentence of its paragraph where its first gold answer starts."""
    data = json.loads(gzip.decompress(path.read_bytes()))
    for entry in data["data"]:
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"]
            spans = sentence_spans(context)
            for qa in paragraph["qas"]:
                kind = span_kind(qa["question"])
                start = qa["answers"][0]["answer_start"]
                where = next(((s, e) for s, e in spans if s <= start < e), None)
                if kind is None or where is None:
                    continue
                golds = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                yield SpanCase(qa["question"], kind, context[where[0] : where[1]], golds)


def span_scores(cases: Iterable[SpanCase]) -> dict[str, dict[str, float]]:
    """Per kind and over all: questions, share whose span contains a gold answer, share
    whose span is one (exact); a question without a span counts as a miss."""
    counts: dict[str, list[int]] = {}
    for case in cases:
        found = answer_span(case.question, case.sentence, {t: 1.0 for t in analyze(case.question)})
        text = case.sentence[found[0] : found[1]] if found else ""
        hit = bool(text) and contains_answer(text, case.golds)
        exact = bool(text) and exact_match(text, case.golds)
        for key in (case.kind, "all"):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += hit
            row[2] += exact
    return {
        key: {"questions": n, "contains": round(h / n, 4), "exact": round(e / n, 4)}
        for key, (n, h, e) in sorted(counts.items())
    }


def main() -> None:
    for key, row in span_scores(gold_sentence_cases()).items():
        n, hit, exact = row["questions"], row["contains"], row["exact"]
        print(f"{key:14s} {n:5d}  contains {hit:.3f}  exact {exact:.3f}")


if __name__ == "__main__":
    main()
