"""tantivy and newsrag's segmented index against the bm25s index (issue 19, "an incremental
lexical index").

Today's LexicalIndex (bm25s) is immutable: adding or deleting one article means rebuilding
the whole index. tantivy is an inverted index with segments, so an article is added or
deleted by a commit. This script measures whether switching would cost retrieval quality
and what it saves on updates:

1. quality: chunk-level BM25 on the SQuAD-it dev half, every question, with the chunks
   `make eval` uses (settings' chunk_tokens/chunk_overlap, the e5 tokenizer), ranked by
   - `bm25s`: LexicalIndex over analyze(title + "\\n" + text), searched with
     analyze(question), as rag.retrieval.hybrid's chunk index does (no sentence, prefix,
     dense or re-ranker stage: those are the same whatever the engine);
   - `tantivy`: tantivy's own analyzer (simple tokenizer, lowercase, the project's
     STOPWORDS, Snowball Italian stemmer), queried with that analyzer's question terms;
   - `tantivy_same_terms`: tantivy fed analyze()'s tokens (pre-tokenised), queried with
     analyze(question): the same terms as bm25s, so any difference is tantivy's scoring;
   - `segments`: rag.retrieval.lexical.LexicalIndex as it is now (immutable segments with
     deletion marks, BM25 computed at query time from the live texts' statistics).
   Queries are a BooleanQuery of one Should TermQuery per term (duplicates kept, as bm25s
   counts them): plain BM25 summed over the terms, with no query-syntax escaping (which
   parse_query would need for questions holding quotes, colons or parentheses).
   A hit is a chunk holding the gold evidence (eval.metrics.first_hit_rank).
2. updates at scale: ~--chunks chunks of bench.run's generated articles (no embedding):
   full build, adding one ~20-chunk article and deleting one article until searchable,
   query latency, size on disk and opening a saved index (cold start).

Needs tantivy, which is not a project dependency:

    .venv/bin/pip install tantivy==0.27.0
    .venv/bin/python -m bench.lexical_engines [--chunks 100000] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import tantivy
except ImportError:
    sys.exit("bench/lexical_engines.py needs tantivy: .venv/bin/pip install tantivy==0.27.0")

from bench.run import generated_articles, percentile
from eval import metrics as m
from eval.datasets import load_set
from rag.retrieval import lexical as segmented
from rag.service import embedder_from_settings
from rag.settings import Settings, load_settings
from vectorstore.documents import Article, Chunk
from vectorstore.embeddings import LocalEmbedder
from vectorstore.ingest import chunk_article

# "Today's index": rag/retrieval/lexical.py as of this commit (bm25s), read from git so that
# work in progress on that file changes neither the baseline nor its analyzer.
BASELINE = "32fbf26e07cb3af4fae52186226390db6f3d8494"


def baseline_lexical() -> Any:
    where = f"{BASELINE}:rag/retrieval/lexical.py"
    root = Path(__file__).resolve().parent.parent
    source = subprocess.check_output(["git", "show", where], cwd=root, text=True)
    module = sys.modules["lexical_bm25s"] = types.ModuleType("lexical_bm25s")
    exec(compile(source, where, "exec"), module.__dict__)
    return module


lexical = baseline_lexical()
analyze: Callable[[str], list[str]] = lexical.analyze
LexicalIndex = lexical.LexicalIndex
DEPTH = 50  # chunks each query asks for: rag.retrieval.hybrid's SEARCH_DEPTH
LATENCY_QUESTIONS = 200
EXTRA_CHUNKS = 20  # the size of the article added in the update test


def italian_analyzer() -> tantivy.TextAnalyzer:
    """tantivy's closest match to rag.retrieval.lexical.analyze."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(sorted(lexical.STOPWORDS)))
        .filter(tantivy.Filter.stemmer("italian"))
        .build()
    )


def text_of(chunk: Chunk) -> str:
    return f"{chunk.title}\n{chunk.text}"


class TantivyChunks:
    """Chunks in a tantivy index: `body` (BM25, term frequencies without positions), `doc`
    (the article id, to delete by) and `pos` (the chunk's position, a fast field)."""

    def __init__(
        self, path: Path, same_terms: bool = False, create: bool = True, threads: int = 0
    ) -> None:
        self.same_terms, self.threads = same_terms, threads
        self.analyzer = italian_analyzer()
        if create:
            schema = tantivy.SchemaBuilder()
            schema.add_text_field("body", tokenizer_name="it", index_option="freq")
            schema.add_text_field("doc", tokenizer_name="raw")
            schema.add_unsigned_field("pos", fast=True)
            path.mkdir(parents=True)
            self.index = tantivy.Index(schema.build(), path=str(path))
        else:
            self.index = tantivy.Index.open(str(path))
        self.schema = self.index.schema
        self.index.register_tokenizer("it", self.analyzer)  # not persisted: on every open
        self.index.config_reader(reload_policy="manual")
        self._writer: tantivy.IndexWriter | None = None
        self.searcher = self.index.searcher()

    @property
    def writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(num_threads=self.threads)  # 128 MB heap; 0: per core
        return self._writer

    def update(self, add: Sequence[Chunk] = (), first: int = 0, delete: str = "") -> int:
        """Add `add` (positions from `first`), delete article `delete`, commit and reload:
        what the next search sees. The live chunk count."""
        for position, chunk in enumerate(add, start=first):
            doc = tantivy.Document()
            if self.same_terms:
                tokens = [tantivy.Token(t, i, 0, 0) for i, t in enumerate(analyze(text_of(chunk)))]
                doc.add_pre_tokenized_text("body", tantivy.PreTokenizedString("", tokens))
            else:
                doc.add_text("body", text_of(chunk))
            doc.add_text("doc", chunk.doc_id)
            doc.add_unsigned("pos", position)
            self.writer.add_document(doc)
        if delete:
            self.writer.delete_documents_by_term("doc", delete)
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()
        return self.searcher.num_docs

    def terms(self, question: str) -> list[str]:
        return analyze(question) if self.same_terms else self.analyzer.analyze(question)

    def search(self, question: str, k: int) -> list[int]:
        """Chunk positions of the best `k` chunks, best first."""
        clauses = [
            (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t))
            for t in self.terms(question)
        ]
        if not clauses:
            return []
        hits = self.searcher.search(tantivy.Query.boolean_query(clauses), k, count=False).hits
        values = self.searcher.fast_field_values("pos", [a for _, a in hits])
        return [int(v) for v in values if v is not None]


def bm25s_search(index: Any) -> Callable[[str, int], list[int]]:
    return lambda question, k: [p for p, _ in index.search(analyze(question), k)]


def segmented_search(index: segmented.LexicalIndex) -> Callable[[str, int], list[int]]:
    return lambda question, k: [p for p, _ in index.search(analyze(question), k)]


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = action()
    return result, round(time.perf_counter() - t0, 3)


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def quality(embedder: LocalEmbedder, settings: Settings, tmp: Path) -> dict[str, Any]:
    evalset = load_set("squad-it")
    chunks = [
        c
        for a in evalset.articles
        for c in chunk_article(a, embedder, settings.chunk_tokens, settings.chunk_overlap)
    ]
    engines: dict[str, Callable[[str, int], list[int]]] = {
        "bm25s": bm25s_search(LexicalIndex([text_of(c) for c in chunks]))
    }
    engines["segments"] = segmented_search(
        segmented.LexicalIndex.from_tokens([analyze(text_of(c)) for c in chunks])
    )
    for name, same in (("tantivy", False), ("tantivy_same_terms", True)):
        index = TantivyChunks(tmp / name, same_terms=same, threads=1)  # 1: ties in a set order
        index.update(chunks)
        engines[name] = index.search
    items = [i for i in evalset.items if i.answerable and not i.history]
    ranks: dict[str, list[int | None]] = {name: [] for name in engines}
    tops: dict[str, list[int | None]] = {name: [] for name in engines}
    for item in items:
        for name, search in engines.items():
            found = search(item.question, DEPTH)
            ranks[name].append(m.first_hit_rank([chunks[p].text for p in found], item.evidence))
            tops[name].append(found[0] if found else None)
    out: dict[str, Any] = {"questions": len(items), "chunks": len(chunks), "depth": DEPTH}
    for name, r in ranks.items():
        out[name] = {f"hit@{k}": round(m.hit_at_k(r, k), 4) for k in (1, 4, 10)}
        out[name]["mrr"] = round(m.mean_reciprocal_rank(r), 4)
        if name != "bm25s":
            agree = sum(a == b for a, b in zip(tops[name], tops["bm25s"], strict=True))
            out[name]["top1_agreement_with_bm25s"] = round(agree / len(items), 4)
    return out


def scale_corpus(embedder: LocalEmbedder, n: int) -> tuple[list[Chunk], list[Chunk]]:
    """~n chunks of generated articles (400 tokens, overlap 1) and one more ~20-chunk article."""
    chunks: list[Chunk] = []
    spare: list[Article] = []
    for seed in itertools.count():  # at 400 tokens an article gives fewer chunks than 3.5
        for a in generated_articles(n, seed):
            a = dataclasses.replace(a, doc_id=f"{a.doc_id}-s{seed}")
            if len(chunks) < n:
                chunks += chunk_article(a, embedder, 400, 1)
            else:
                spare.append(a)
        if len(chunks) >= n and len(spare) > 4 * EXTRA_CHUNKS:
            break
    body = ""
    for a in spare:
        body = f"{body}\n\n{a.body}" if body else a.body
        extra = Article("extra-article", "Articolo aggiunto", "2025-06-01", "gen", body)
        added = chunk_article(extra, embedder, 400, 1)
        if len(added) >= EXTRA_CHUNKS:
            return chunks, added
    raise RuntimeError("not enough spare articles for the extra article")


def latency_ms(search: Callable[[str, int], list[int]], questions: list[str]) -> dict[str, float]:
    search(questions[0], DEPTH)  # warm-up
    times = []
    for q in questions:
        t0 = time.perf_counter()
        search(q, DEPTH)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(percentile(times, 0.5), 2), "p95": round(percentile(times, 0.95), 2)}


def bm25s_rebuilds(
    old: list[Chunk], old_tokens: list[list[str]], new: Sequence[Chunk]
) -> tuple[float, float]:
    """Seconds to rebuild over `old` + `new`: from their texts; from `old`'s tokens."""
    texts = [text_of(c) for c in [*old, *new]]
    full = timed(lambda: LexicalIndex(texts))[1]
    lower = timed(lambda: LexicalIndex.from_tokens(old_tokens + [analyze(text_of(c)) for c in new]))
    return full, lower[1]


def scale(embedder: LocalEmbedder, n: int, tmp: Path) -> dict[str, Any]:
    chunks, extra = scale_corpus(embedder, n)
    distinct = list(dict.fromkeys(i.question for i in load_set("squad-it").items))
    questions = random.Random(0).sample(distinct, LATENCY_QUESTIONS)
    gone = chunks[0].doc_id  # the article deleted in the delete test
    out: dict[str, Any] = {"chunks": len(chunks), "extra_article_chunks": len(extra)}

    lexical._STEMS.clear()  # a fresh process: no stem cached yet
    tokens, analyze_s = timed(lambda: [analyze(text_of(c)) for c in chunks])
    index, index_s = timed(lambda: LexicalIndex.from_tokens(tokens))
    folder = tmp / "bm25s"
    folder.mkdir()
    _, save_s = timed(lambda: index.save(folder))
    _, open_s = timed(lambda: bm25s_search(LexicalIndex.load(folder))(questions[0], DEPTH))
    bm = out["bm25s"] = {"full_build_s": round(analyze_s + index_s, 3), "index_s": index_s}
    # Today any change rebuilds the index: from the texts (the stem cache warm, as in a
    # running server) or, a lower bound, from the other chunks' tokens kept in memory.
    kept = [i for i, c in enumerate(chunks) if c.doc_id != gone]
    for change, old, new in (("add", range(len(chunks)), extra), ("delete", kept, [])):
        full, lower = bm25s_rebuilds([chunks[i] for i in old], [tokens[i] for i in old], new)
        bm[f"{change}_article_rebuild_s"] = full
        bm[f"{change}_article_rebuild_from_tokens_s"] = lower
    bm |= {
        "query_ms": latency_ms(bm25s_search(index), questions),
        "disk_mb": folder_mb(folder),
        "save_s": save_s,
        "open_and_first_query_s": open_s,
        "analyze_s": analyze_s,  # of full_build_s
    }

    base, build_s = timed(lambda: segmented.LexicalIndex.from_tokens(tokens))

    def add() -> segmented.LexicalIndex:
        index = base.appended([analyze(text_of(c)) for c in extra])
        found = index.search(analyze(extra[0].text), 1)
        assert found and found[0][0] >= len(chunks), "the added article is not searchable"
        return index

    grown, add_s = timed(add)
    dead = [i for i, c in enumerate(chunks) if c.doc_id == gone]
    _, delete_s = timed(lambda: grown.without(dead).search(analyze(chunks[dead[0]].text), 1))
    seg_folder = tmp / "segments"
    seg_folder.mkdir()
    _, seg_save_s = timed(lambda: grown.segments[0].save(seg_folder / "base"))

    def open_segments() -> None:
        loaded = segmented.Postings.load(seg_folder / "base", "base")
        segmented_search(segmented.LexicalIndex.of_segments((loaded,)))(questions[0], DEPTH)

    _, seg_open_s = timed(open_segments)
    out["segments"] = {
        "full_build_s": round(analyze_s + build_s, 3),
        "index_s": build_s,
        "add_article_s": add_s,  # analysing its chunks, a new segment, a first query
        "delete_article_s": delete_s,  # deletion marks and a first query
        "query_ms": latency_ms(segmented_search(grown), questions),
        "disk_mb": folder_mb(seg_folder),
        "save_s": seg_save_s,
        "open_and_first_query_s": seg_open_s,
    }

    path = tmp / "tantivy-scale"
    engine = TantivyChunks(path)
    _, build_s = timed(lambda: engine.update(chunks))
    segments = engine.searcher.num_segments
    _, add_s = timed(lambda: engine.update(extra, len(chunks)))
    found = engine.search(extra[0].text, 1)
    assert found and found[0] >= len(chunks), "the added article is not searchable"
    live, delete_s = timed(lambda: engine.update(delete=gone))
    assert live == len(chunks) + len(extra) - sum(c.doc_id == gone for c in chunks)
    query_ms = latency_ms(engine.search, questions)
    disk_before_merge = folder_mb(path)
    _, merge_s = timed(lambda: engine.writer.wait_merging_threads())

    def cold_start() -> None:
        TantivyChunks(path, create=False).search(questions[0], DEPTH)

    _, open_s = timed(cold_start)
    out["tantivy"] = {
        "full_build_s": build_s,
        "segments_after_build": segments,
        "add_article_commit_reload_s": add_s,
        "delete_article_commit_reload_s": delete_s,
        "query_ms": query_ms,
        "disk_mb": disk_before_merge,
        "disk_mb_after_merges": folder_mb(path),
        "wait_merging_s": merge_s,
        "open_and_first_query_s": open_s,
    }
    return out


def summary(result: dict[str, Any]) -> str:
    q, s = result["quality"], result["scale"]
    lines = [f"SQuAD-it dev, {q['questions']} questions over {q['chunks']} chunks (chunk BM25):"]
    for name in ("bm25s", "segments", "tantivy", "tantivy_same_terms"):
        f = q[name]
        agree = f"  top-1 = bm25s's {f['top1_agreement_with_bm25s']:.1%}" if name != "bm25s" else ""
        lines.append(f"  {name:19} hit@1 {f['hit@1']:.3f}  hit@4 {f['hit@4']:.3f}  "
                     f"MRR {f['mrr']:.3f}{agree}")  # fmt: skip
    b, g, t = s["bm25s"], s["segments"], s["tantivy"]
    lines.append(
        f"{s['chunks']} chunks, one {s['extra_article_chunks']}-chunk article:"
        "  bm25s  segments  tantivy"
    )
    for label, bk, gk, tk in (
        ("full build, s", "full_build_s", "full_build_s", "full_build_s"),
        ("add article, s", "add_article_rebuild_s", "add_article_s", "add_article_commit_reload_s"),
        (
            "delete article, s",
            "delete_article_rebuild_s",
            "delete_article_s",
            "delete_article_commit_reload_s",
        ),
        ("open + 1st query, s", "open_and_first_query_s", "open_and_first_query_s",
         "open_and_first_query_s"),
        ("disk, MB", "disk_mb", "disk_mb", "disk_mb"),
    ):  # fmt: skip
        lines.append(f"  {label:22} {b[bk]:>10} {g[gk]:>10} {t[tk]:>10}")
    lines.append(
        f"  {'query p50/p95, ms':22} "
        + "  ".join(f"{x['query_ms']['p50']}/{x['query_ms']['p95']}" for x in (b, g, t))
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="corpus size, scale test")
    parser.add_argument("--out", type=Path, default=Path("bench-results/lexical-engines.json"))
    args = parser.parse_args()
    settings = load_settings()
    embedder = embedder_from_settings(settings)  # its tokenizer only: nothing is embedded
    with tempfile.TemporaryDirectory(prefix="newsrag-lexical-") as tmp:
        result = {
            "tantivy_version": metadata.version("tantivy"),
            "baseline": f"rag/retrieval/lexical.py at {BASELINE}",
            "quality": quality(embedder, settings, Path(tmp)),
            "scale": scale(embedder, args.chunks, Path(tmp)),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
