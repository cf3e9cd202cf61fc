"""The ingest's duplicate path alone over the ~100k-chunk generated collection: time and memory.

Every article goes through what `ingest_articles` does with it before chunking: its keys
(fingerprint, MinHash, shingle hashes), a lookup against every article kept so far, and,
when it is not a copy, its addition to the index. The index holds every article of the run
in memory, as in one large ingest. A second pass under `tracemalloc` gives what the index
holds at the end (tracing slows the pass, so its time is not reported).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.run import generated_articles
from vectorstore.documents import Article
from vectorstore.duplicates import DuplicateIndex, article_keys


def _pass(articles: list[Article]) -> tuple[DuplicateIndex, dict[str, Any]]:
    index = DuplicateIndex(lambda ids: {})  # nothing is stored: every article is in memory
    keys_s = lookup_s = 0.0
    copies = 0
    for article in articles:
        started = time.perf_counter()
        keys = article_keys(article.body)
        keyed = time.perf_counter()
        copy = index.find(article.doc_id, keys.fingerprint, keys.signature, keys.shingles)
        if copy is None:
            index.add(article.doc_id, keys.fingerprint, keys.signature, keys.shingles)
        else:
            copies += 1
        lookup_s += time.perf_counter() - keyed
        keys_s += keyed - started
    timing = {"keys_s": round(keys_s, 1), "lookups_s": round(lookup_s, 1), "duplicates": copies}
    return index, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="size of the collection")
    parser.add_argument("--out", type=Path, default=Path("bench-results/duplicate-path.json"))
    args = parser.parse_args()
    articles = generated_articles(args.chunks)
    _, timing = _pass(articles)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index, _ = _pass(articles)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del index
    result = {"articles": len(articles), **timing, "index_mb": round(held / 1e6, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
