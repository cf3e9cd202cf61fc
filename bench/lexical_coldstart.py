"""Cold start and query latency of the lexical index at ~100k chunks (issue 4/6 budgets).

Builds (once) a real embedded Chroma store of synthetic Italian articles made by
recombining SQuAD-it sentences, with random unit vectors (no embedding needed for
lexical timings), then times: reading every chunk id, store.all_chunks(), building
and saving the corpus, loading it, a cold `NewsQA._lexical()` (what warm_up runs:
load the saved index and check it against the store) and BM25 hybrid_search latency
over the loaded corpus (checked equal to the built one).

    .venv/bin/python bench/lexical_coldstart.py --store /tmp/lexbench --chunks 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from eval.datasets import SQUAD_IT
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.hybrid import Query, hybrid_search
from rag.retrieval.lexical_store import load
from rag.retrieval.live_lexical import LiveLexical
from rag.service import NewsQA
from rag.settings import load_settings
from vectorstore.documents import Article, Chunk
from vectorstore.records import chunk_metadata
from vectorstore.sentences import sentence_spans
from vectorstore.store import ChromaStore

CHUNKS_PER_ARTICLE = 10
CHUNK_CHARS = 800


def squad_sentences_and_questions() -> tuple[list[str], list[str]]:
    data = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    sentences: list[str] = []
    questions: list[str] = []
    for entry in data["data"]:
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"]
            sentences += [context[s:e] for s, e in sentence_spans(context)]
            questions += [qa["question"] for qa in paragraph["qas"]]
    return sentences, questions


def make_article(
    number: int, sentences: list[str], rng: random.Random
) -> tuple[Article, list[Chunk]]:
    """An article of CHUNKS_PER_ARTICLE paragraphs of ~CHUNK_CHARS, one chunk per paragraph."""
    paragraphs = []
    for _ in range(CHUNKS_PER_ARTICLE):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < CHUNK_CHARS:
            parts.append(rng.choice(sentences))
        paragraphs.append(" ".join(parts))
    body = "\n\n".join(paragraphs)
    day = f"20{10 + number % 15:02d}-{1 + number % 12:02d}-{1 + number % 28:02d}"
    article = Article(f"a{number:06d}", f"Articolo {number}", day, f"bench/{number}.txt", body)
    chunks, cursor = [], 0
    for index, paragraph in enumerate(paragraphs):
        chunks.append(
            Chunk(article.doc_id, index, cursor, cursor + len(paragraph), paragraph,
                  article.title, article.date, article.source)
        )  # fmt: skip
        cursor += len(paragraph) + 2
    return article, chunks


def open_store(data_dir: Path) -> ChromaStore:
    from vectorstore.clients import chroma_client

    return ChromaStore(lambda: chroma_client(data_dir), "bench-random-vectors")


def fill_store(data_dir: Path, total_chunks: int, sentences: list[str]) -> None:
    """Bulk-add articles in batches (the end state `put_article` writes, much faster)."""
    store = open_store(data_dir)
    if store.counts()[1] >= total_chunks:
        return
    rng = random.Random(0)
    vec_rng = np.random.default_rng(0)
    articles = total_chunks // CHUNKS_PER_ARTICLE
    started = time.perf_counter()
    batch: list[tuple[Article, list[Chunk]]] = []
    for number in range(articles):
        batch.append(make_article(number, sentences, rng))
        if len(batch) == 500 or number == articles - 1:
            chunks = [c for _, cs in batch for c in cs]
            vectors = vec_rng.standard_normal((len(chunks), 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.chunks.add(
                ids=[f"{c.chunk_id}@{a.content_hash}" for a, cs in batch for c in cs],
                embeddings=vectors,
                documents=[c.text for c in chunks],
                metadatas=[chunk_metadata(c, a.content_hash) for a, cs in batch for c in cs],
            )
            store.articles.add(
                ids=[a.doc_id for a, _ in batch],
                embeddings=vectors[:: CHUNKS_PER_ARTICLE],
                documents=[a.body for a, _ in batch],
                metadatas=[
                    {"title": a.title, "source": a.source, "content_hash": a.content_hash,
                     "chunks": len(cs), "date": a.date or ""}
                    for a, cs in batch
                ],
            )  # fmt: skip
            batch = []
            elapsed = time.perf_counter() - started
            print(f"  {number + 1}/{articles} articles, {elapsed:.0f}s", flush=True)


def timed(label: str, fn, results: dict[str, float]):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - started
    print(f"{label}: {results[label]:.2f}s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, default=Path("/tmp/lexbench"))
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sentences, questions = squad_sentences_and_questions()
    fill_store(args.store, args.chunks, sentences)
    results: dict[str, float] = {"load_before": os.getloadavg()[0]}
    store = open_store(args.store)
    print("counts", timed("counts", store.counts, results))
    timed("read_ids", lambda: store.chunk_records(metadata=False), results)
    chunks = timed("read_chunks_paged", store.all_chunks, results)
    timed("build_only", lambda: LexicalCorpus.build(chunks), results)
    folder = args.store / "lexical"
    shutil.rmtree(folder, ignore_errors=True)
    live = LiveLexical(store, folder)
    corpus = timed("build_and_save", lambda: live.refresh().corpus, results)
    loaded_state = timed("load_saved", lambda: load(folder, store.embedding_model), results)
    assert loaded_state is not None
    loaded = loaded_state.corpus
    service = NewsQA(load_settings(data_dir=args.store), open_store(args.store), None)  # type: ignore[arg-type]
    timed("service_cold_lexical", service._lexical, results)
    rng = random.Random(1)
    sample = rng.sample(questions, args.queries)
    latencies = []
    for question in sample:
        started = time.perf_counter()
        ranked = hybrid_search([Query(question)], loaded, None, 20, 20, 0.0)
        latencies.append(time.perf_counter() - started)
        assert ranked == hybrid_search([Query(question)], corpus, None, 20, 20, 0.0)
    latencies.sort()
    results["query_p50"] = statistics.median(latencies)
    results["query_p95"] = latencies[int(0.95 * len(latencies)) - 1]
    results["load_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
