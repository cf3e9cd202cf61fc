"""Start-up cost at ~100,000 chunks without the hour-long embedding: what a server does before
`/healthz` answers (read every chunk from Chroma, build the BM25 index) and the memory it takes.

The chunks are the real ones of the generated 100k collection (same chunker and tokenizer);
their vectors are random unit vectors (one per sentence, the chunk's their mean, as ingest
writes them), which is fine here because start-up never reads vectors. `make bench` (size
`100k`) measures the same end to end with real embeddings.
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
from vectorstore.records import store_identity
from vectorstore.sentence_vectors import chunk_sentences, unit_mean
from vectorstore.store import ArticleWrite, ChromaStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results/startup-100k.json"))
    args = parser.parse_args()
    embedder = LocalEmbedder(bundled_model_path(), backend="onnx-int8")  # tokenizer only
    rng = np.random.default_rng(0)
    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="newsrag-startup-") as tmp:
        store = ChromaStore(lambda: chroma_client(Path(tmp)), store_identity(embedder.name))
        total = 0
        batch: list[ArticleWrite] = []
        sentences: dict[str, np.ndarray] = {}  # random rows too: whole reads skip their bytes
        for article in generated_articles(args.chunks):
            chunks = chunk_article(article, embedder, 254, 1)
            for chunk in chunks:
                rows = rng.normal(size=(len(chunk_sentences(chunk.text)), 384))
                sentences[chunk.chunk_id] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
            vectors = [unit_mean(sentences[c.chunk_id]).tolist() for c in chunks]
            batch.append((article, chunks, vectors, {}))
            total += len(chunks)
            if len(batch) >= 200:
                store.put_articles(batch, sentences)
                batch, sentences = [], {}
            if total >= args.chunks:
                break
        store.put_articles(batch, sentences)
        rss_before = process.memory_info().rss
        reader = ChromaStore(lambda: chroma_client(Path(tmp)), store_identity(embedder.name))
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
