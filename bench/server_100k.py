"""A real `newsrag serve` over ~100,000 chunks without the hour-long embedding: cold start,
question latency through the API and peak RSS, beside the same server over the SQuAD-it half.

The 100k store is bench.concurrency's: generated articles of SQuAD-it sentences, chunked as
ingest does, with random unit vectors written straight to Chroma (one per sentence, the
chunk's their mean, as ingest stores them; embedding 100k chunks for real takes over an hour
on 2 cores; `make bench`'s size `100k` does it). Everything a question costs is real: its
embedding, BM25 over 100k chunks, Chroma's HNSW search over 100k vectors of the real width and
the read of the neighbours' sentence vectors, the re-ranker, the candidate sentences' scores.
Only the dense neighbours are meaningless, so answers are not scored here. The baseline is
`bench.run`'s measurement of a server over the SQuAD-it half (real vectors), in the same run,
with the same questions.

    .venv/bin/python -m bench.server_100k --keep /tmp/bench100k --out bench-results/server-100k.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.concurrency import build_store, check
from bench.run import TARGETS, measure_server, questions_for, ratio
from eval.datasets import squad_set
from rag.service import NewsQA, embedder_from_settings
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
# The 100k server's settings: its vectors are random, and the re-ranker's scores read their
# cosines, so the evidence floor fitted with e5's (rag.answering.quoting.doubted) would turn
# every question into an abstention that skips choosing the answer's sentences. Off, each
# question does all the work a real one does.
RANDOM_VECTORS_ENV = {"NEWSRAG_EVIDENCE_ABSTAIN_BELOW": "0"}


def prepared_100k(data_dir: Path, target: int) -> dict[str, Any]:
    """The 100k store in `data_dir` (built once, kept), its lexical index saved."""
    s = load_settings(data_dir=data_dir)
    built, _ = build_store(s, embedder_from_settings(s), target)
    started = time.perf_counter()
    NewsQA.from_settings(s).warm_up()  # the BM25 index, built and saved as `newsrag ingest` does
    built["lexical_s"] = round(time.perf_counter() - started, 1)
    return built


def prepared_squad(data_dir: Path) -> dict[str, Any]:
    """The SQuAD-it half ingested for real (kept when already there)."""
    service = NewsQA.from_settings(load_settings(data_dir=data_dir))
    if service.is_empty():
        service.ingest_articles(squad_set().articles)
    service.warm_up()
    articles, chunks = service.store.counts()
    return {"articles": articles, "chunks": chunks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build the stores here and keep them (re-runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results/server-100k.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        warm_up, questions = questions_for("squad", args.questions)
        result: dict[str, Any] = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
            "questions": len(questions),
        }
        print("[squad] store", flush=True)
        result["squad_store"] = prepared_squad(work / "squad")
        print(f"[100k] store (~{args.chunks} chunks, random vectors)", flush=True)
        result["store_100k"] = prepared_100k(work / "100k", args.chunks)
        print("servers, one after the other", flush=True)  # both measured on the same load
        result["squad_server"] = measure_server(work / "squad", warm_up, questions)
        result["server_100k"] = measure_server(
            work / "100k", warm_up, questions, RANDOM_VECTORS_ENV
        )
        small, large = result["squad_server"], result["server_100k"]
        result["p95_vs_squad"] = ratio(large["p95_ms"], small["p95_ms"])
        result["rss_vs_squad"] = ratio(large["rss_mb"], small["rss_mb"])
        result["checks"] = [
            check("100k p95 ms", large["p95_ms"], TARGETS["p95_ms_100k"],
                  f"(SQuAD-it half {small['p95_ms']} ms, x{result['p95_vs_squad']})"),
            check("100k peak RSS MB", large["rss_mb"], TARGETS["rss_mb"],
                  f"(SQuAD-it half {small['rss_mb']} MB)"),
            check("100k cold start s", large["cold_start_s"], TARGETS["cold_start_s"],
                  f"(SQuAD-it half {small['cold_start_s']} s)"),
        ]  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(result["checks"]))


if __name__ == "__main__":
    main()
