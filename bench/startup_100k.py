"""Start-up cost at ~100,000 chunks without the hour-long embedding: what a server does before
`/healthz` answers (read every chunk from Chroma, build the BM25 index) and the memory it takes.

The chunks are the real ones of the generated 100k collection (same chunker and tokenizer);
their vectors are random unit vectors, which is fine here because start-up never reads
vectors. `make bench` (size `100k`) measures the same end to end with real embeddings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from bench.run import generated_articles
from rag.retrieval.corpus import LexicalCorpus
from vectorstore.clients import chroma_client
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.ingest import chunk_article
from vectorstore.store import ChromaStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results/startup-100k.json"))
    args = parser.parse_args()
    embedder = LocalEmbedder(bundled_model_path(), backend="onnx-int8")  # tokenizer only
    rng = np.random.default_rng(0)
    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="newsrag-startup-") as tmp:
        store = ChromaStore(lambda: chroma_client(Path(tmp)), embedder.name)
        total = 0
        batch = []
        for article in generated_articles(args.chunks):
            chunks = chunk_article(article, embedder, 254, 1)
            vectors = rng.normal(size=(len(chunks), 384))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            batch.append((article, chunks, vectors.tolist(), {}))
            total += len(chunks)
            if len(batch) >= 200:
                store.put_articles(batch)
                batch = []
            if total >= args.chunks:
                break
        store.put_articles(batch)
        rss_before = process.memory_info().rss
        reader = ChromaStore(lambda: chroma_client(Path(tmp)), embedder.name)
        t0 = time.perf_counter()
        chunks = reader.all_chunks()
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        LexicalCorpus.build(chunks)
        build_s = time.perf_counter() - t0
        result = {
            "chunks": len(chunks),
            "read_all_chunks_s": round(read_s, 1),
            "bm25_build_s": round(build_s, 1),
            "rss_growth_mb": round((process.memory_info().rss - rss_before) / 2**20),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
