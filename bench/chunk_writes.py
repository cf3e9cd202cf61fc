"""What keeping each chunk's text in Chroma would cost: write time and store size, against the
chunk records newsrag writes (a chunk's place in its article; its text is read back from the
article body, `vectorstore.store`).

The same chunks of the generated collection are written, in alternating rounds, into fresh
stores with `ChromaStore.put_articles`, once as newsrag does and once with each chunk's text
added to its record (as Chroma's LangChain integration stores it). Vectors are random unit
vectors: they cost the same in both layouts, and no encoder competes for the CPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import generated_articles
from vectorstore.clients import chroma_client
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.ingest import chunk_article
from vectorstore.store import ArticleWrite, ChromaStore

BATCH = 64  # articles per write, as an ingest batch


def _writes(chunks_wanted: int) -> list[list[ArticleWrite]]:
    embedder = LocalEmbedder(bundled_model_path(), backend="onnx-int8")  # tokenizer only
    rng = np.random.default_rng(0)
    batches: list[list[ArticleWrite]] = [[]]
    total = 0
    for article in generated_articles(chunks_wanted):
        chunks = chunk_article(article, embedder, 254, 1)
        vectors = rng.normal(size=(len(chunks), 384))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if len(batches[-1]) == BATCH:
            batches.append([])
        batches[-1].append((article, chunks, vectors.tolist(), {}))
        total += len(chunks)
        if total >= chunks_wanted:
            break
    return batches


def _add_text(store: ChromaStore, batches: Sequence[Sequence[ArticleWrite]]) -> None:
    """Make the store's chunk writes carry each chunk's text."""
    texts = {
        f"{c.chunk_id}@{article.content_hash}": c.text
        for batch in batches
        for article, chunks, _, _ in batch
        for c in chunks
    }
    upsert = store.chunks.upsert

    def upsert_with_text(*, ids: list[str], **rest: Any) -> None:
        upsert(ids=ids, documents=[texts[i] for i in ids], **rest)

    store.chunks.upsert = upsert_with_text


def _chunk_count(batches: Sequence[Sequence[ArticleWrite]]) -> int:
    return sum(len(chunks) for batch in batches for _, chunks, _, _ in batch)


def _write(batches: Sequence[Sequence[ArticleWrite]], with_text: bool) -> dict[str, float]:
    chunks = _chunk_count(batches)
    with tempfile.TemporaryDirectory(prefix="newsrag-writes-") as tmp:
        store = ChromaStore(lambda: chroma_client(Path(tmp)), "bench")
        if with_text:
            _add_text(store, batches)
        start = time.perf_counter()
        for batch in batches:
            store.put_articles(batch)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    return {"write_s": round(seconds, 1), "ms_per_chunk": round(1e3 * seconds / chunks, 2),
            "store_mb": round(size / 1e6, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench-results/chunk-writes.json"))
    args = parser.parse_args()
    batches = _writes(args.chunks)
    runs: dict[str, list[dict[str, float]]] = {"places": [], "with_text": []}
    for _ in range(args.rounds):
        for layout in runs:
            runs[layout].append(_write(batches, with_text=layout == "with_text"))
            print(layout, runs[layout][-1], flush=True)
    fastest = {layout: min(r["ms_per_chunk"] for r in rs) for layout, rs in runs.items()}
    result = {
        "chunks": _chunk_count(batches),
        "runs": runs,
        "fastest_ms_per_chunk": fastest,
        "write_ratio_with_text_vs_places": round(fastest["with_text"] / fastest["places"], 2),
        "store_ratio_with_text_vs_places": round(
            runs["with_text"][0]["store_mb"] / runs["places"][0]["store_mb"], 2
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
