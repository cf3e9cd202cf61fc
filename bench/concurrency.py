"""Questions while articles are written, and how soon a written article is answerable (issue 19).

Writes are serialised in `NewsQA`; questions never wait for them but read the last lexical
snapshot (rag.retrieval.live_lexical). This checks that promise, each figure beside its baseline
of the same run: `NewsQA.ask` latency (one thread, SQuAD-it questions) while another thread
writes articles one by one without pause, against others asked idle before and after; from a
write's return until the article is in the writer's snapshot (0 by design) and in a second
NewsQA's on the same store, which learns only through its watcher (default interval); at 100k
chunks also `lexical.refresh()` after one article added, one deleted and no change, and cold
start with the saved lexical index (fresh processes: `warm_up`, and `LiveLexical.snapshot()`
alone) against a full rebuild (`LexicalCorpus.build(store.all_chunks())`, fresh process too).

Size `squad`: the 24 SQuAD-it dev-half articles, real default embedder; 12 are ingested first,
the writer ingests the other 12 (then updated copies) through `NewsQA.ingest_articles`. Size
`100k`: generated articles (bench.run) with random unit vectors written straight to Chroma, as
in bench/startup_100k.py; questions still embed with the real model, and the writer `ingest`
embeds for real; `put_refresh` is store.put_articles then lexical.refresh under the write lock
(ingest's write path without the embedding). At both sizes `ingest_own_model` ingests through a
second NewsQA with its own model instance: the questions' model is then not shared with ingest.

    .venv/bin/python -m bench.concurrency --sizes squad,100k --out bench-results/concurrency.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import generated_articles, percentile, ratio
from eval.datasets import squad_set
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.dense import SENTENCE_CACHE
from rag.retrieval.live_lexical import LiveLexical
from rag.service import NewsQA, embedder_from_settings
from rag.settings import Settings, load_settings
from vectorstore.clients import client_factory
from vectorstore.documents import Article
from vectorstore.duplicates import article_keys, encode_signature
from vectorstore.embeddings import LocalEmbedder
from vectorstore.ingest import chunk_article
from vectorstore.records import store_identity
from vectorstore.sentence_vectors import chunk_sentences, unit_mean
from vectorstore.store import ArticleWrite, ChromaStore

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 30  # questions asked before timing, never among the timed ones
SAMPLES = 10  # writes timed for the refresh cost and the answerable delay
Ingest = Callable[[], Article]
DIM = 384  # multilingual-e5-small's vectors


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def latency(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return {"n": len(values), "p50_ms": ms(p50), "p95_ms": ms(p95), "max_ms": ms(max(values))}


def squad_questions(doc_ids: set[str] | None, n: int) -> list[str]:
    """`n` distinct SQuAD-it questions (about these articles when given)."""
    items = [i for i in squad_set().items if doc_ids is None or i.doc_id in doc_ids]
    distinct = list(dict.fromkeys(i.question for i in items))
    return random.Random(0).sample(distinct, n)


def ask_all(service: NewsQA, questions: list[str]) -> dict[str, Any]:
    times, abstained, errors = [], 0, []
    for question in questions:
        started = time.perf_counter()
        try:
            abstained += service.ask(question).abstained
        except Exception as error:  # counted and shown: a question must not fail under writes
            errors.append(repr(error))
        times.append(time.perf_counter() - started)
    return {
        **latency(times),
        "times": times,
        "over_2s": sum(t > 2 for t in times),
        "abstained": abstained,
        "errors": len(errors),
        "first_errors": errors[:3],
        "load_average": round(os.getloadavg()[0], 1),
    }


def keep_writing(write: Ingest, stop: threading.Event, out: dict[str, Any]) -> None:
    """Call `write` (one article, which it returns) without pause until `stop`."""
    times: list[float] = []
    chars, started = 0, time.perf_counter()
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            chars += len(write().body)
            times.append(time.perf_counter() - t0)
    except Exception as error:  # shown in the results: a write must not fail under questions
        out["error"] = repr(error)
    seconds = time.perf_counter() - started
    out |= {"writes": len(times), "seconds": round(seconds, 1), "write": latency(times)}
    out |= {"articles_per_s": round(len(times) / seconds, 2), "chars_per_s": round(chars / seconds)}


def busy_vs_idle(
    service: NewsQA, questions: list[str], writers: dict[str, Ingest], cold: bool
) -> dict[str, Any]:
    """`n` questions idle, `n` others while a writer runs, `n` idle again, and so on: each
    writer is compared with the idle phases around it, so the load others put on a shared
    machine drifts less between the two. The service watches the store as `newsrag serve` does.
    Each question is asked once: its vector and its sentences' are cached (rag.retrieval.dense).
    When `cold`, each phase starts with an empty sentence cache, so that no phase finds more of
    its candidate sentences already embedded than another (a real 100k corpus's sentences
    overflow the cache anyway)."""
    phases = [p for i, name in enumerate(writers) for p in (f"idle_{i}", name)]
    phases.append(f"idle_{len(writers)}")
    n = (len(questions) - WARM_UP) // len(phases)
    for question in questions[:WARM_UP]:
        service.ask(question)
    out: dict[str, Any] = {}
    for i, phase in enumerate(phases):
        asked = questions[WARM_UP + i * n : WARM_UP + (i + 1) * n]
        if cold:
            service.dense._sentences = type(service.dense._sentences)(SENTENCE_CACHE)
        if phase not in writers:
            out[phase] = ask_all(service, asked)
            continue
        stop, writer = threading.Event(), dict[str, Any]()
        thread = threading.Thread(target=keep_writing, args=(writers[phase], stop, writer))
        thread.start()
        out[f"during_{phase}"] = {"questions": ask_all(service, asked), "writer": writer}
        stop.set()
        thread.join()
    idle = [out[f"idle_{i}"] for i in range(len(writers) + 1)]
    out["idle"] = latency([t for phase in idle for t in phase["times"]])
    for i, name in enumerate(writers):
        busy = out[f"during_{name}"]
        busy["idle_around"] = around = latency(idle[i]["times"] + idle[i + 1]["times"])
        busy["p50_ratio"] = ratio(busy["questions"]["p50_ms"], around["p50_ms"])
        busy["p95_ratio"] = ratio(busy["questions"]["p95_ms"], around["p95_ms"])
        busy["questions"].pop("times")
    for phase in idle:
        phase.pop("times")
    return out


def holds(service: NewsQA, article: Article) -> bool:
    """Whether the service's current lexical snapshot has this version of the article."""
    state = service.lexical._state
    version = state.versions.get(article.doc_id, "") if state else ""
    return version.startswith(f"{article.content_hash}:")


def answerable(service: NewsQA, write: Callable[[], Article], samples: int) -> dict[str, Any]:
    """Seconds from a write's return until the writer's snapshot, and a second NewsQA's on the
    same store (watching at the default interval), hold the article."""
    s = service.settings
    store = ChromaStore(
        client_factory(s), store_identity(service.embedder.name), prefix=s.collection_prefix
    )
    reader = NewsQA(s, store, service.embedder)
    reader.lexical.snapshot()
    reader.watch_store()
    rng = random.Random(1)
    writes, delays, own, missed = [], [], 0, 0
    try:
        for _ in range(samples):
            time.sleep(rng.uniform(0, s.lexical_refresh_seconds))  # any phase of the tick
            t0 = time.perf_counter()
            article = write()
            returned = time.perf_counter()
            writes.append(returned - t0)
            own += holds(service, article)
            while not holds(reader, article):
                if time.perf_counter() - returned > 60:
                    missed += 1
                    break
                time.sleep(0.005)
            delays.append(time.perf_counter() - returned)
    finally:
        reader.close()
    return {
        "writes": latency(writes),
        "writer_had_it": f"{own}/{samples}",
        "second_instance": latency(delays),
        "second_instance_missed_60s": missed,
        "watch_interval_s": s.lexical_refresh_seconds,
    }


def ingesters(service: NewsQA, articles: Iterator[Article]) -> tuple[Ingest, Ingest]:
    """Ingest the next article through `service`; or through a second NewsQA on the same store
    with a model instance of its own, which `service` learns of through its watcher."""
    s = service.settings
    own = NewsQA(s, service.store, embedder_from_settings(s))
    own.warm_up()  # its model and lexical snapshot, loaded before the timing

    def through(qa: NewsQA) -> Ingest:
        def ingest() -> Article:
            article = next(articles)
            qa.ingest_articles([article])
            return article

        return ingest

    return through(service), through(own)


def run_squad(work: Path, n_questions: int) -> dict[str, Any]:
    settings = load_settings(data_dir=work / "squad")
    service = NewsQA.from_settings(settings)
    articles = squad_set().articles
    first, second = articles[:12], articles[12:]
    print(f"[squad] ingesting {len(first)} articles", flush=True)
    started = time.perf_counter()
    service.ingest_articles(first)
    service.warm_up()
    ingest_s = time.perf_counter() - started
    service.watch_store()  # as `newsrag serve` does
    updated = (  # the second half, then updated copies of it
        dataclasses.replace(a, body=f"{a.body}\n\nAggiornamento {n}.") for n in range(1, 99)
        for a in second
    )  # fmt: skip
    ingest_one, ingest_own = ingesters(service, itertools.chain(second, updated))
    writers = {"ingest": ingest_one, "ingest_own_model": ingest_own}
    questions = squad_questions({a.doc_id for a in first}, WARM_UP + 5 * n_questions)
    print(f"[squad] {n_questions} questions idle, then while ingesting", flush=True)
    # Each phase starts with an empty sentence cache. Kept warm, the idle phases' candidate
    # sentences were all cached while those of the articles the writer adds were not: the
    # questions during the ingest paid for embedding them the first time (p95 x4.8-5.8 in two
    # runs, against x1.35-1.46 while the writer only rewrote cached sentences), a cost every
    # new article has, written during a question or not (README "Reads during writes").
    result = busy_vs_idle(service, questions, writers, cold=True)
    print("[squad] answerable after a write", flush=True)
    result["answerable"] = answerable(service, ingest_one, 5)
    service.close()
    documents, chunks = service.store.counts()
    return {
        "first_half_ingest_s": round(ingest_s, 1),
        "store_at_end": {"articles": documents, "chunks": chunks},
        **result,
    }


Write = tuple[ArticleWrite, dict[str, np.ndarray]]  # an article's write, its sentence vectors


def write_item(article: Article, embedder: LocalEmbedder, s: Settings, rng: Any) -> Write:
    """What ingest writes for `article`, with random unit vectors instead of embeddings: one
    per sentence, the chunk's their mean (vectorstore.sentence_vectors)."""
    chunks = chunk_article(article, embedder, s.chunk_tokens, s.chunk_overlap)
    sentences = {}
    for chunk in chunks:
        rows = rng.normal(size=(len(chunk_sentences(chunk.text)), DIM)).astype(np.float32)
        sentences[chunk.chunk_id] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    vectors = [unit_mean(sentences[c.chunk_id]).tolist() for c in chunks]
    keys = article_keys(article.body)
    extra = {"fingerprint": keys.fingerprint, "minhash": encode_signature(keys.signature)}
    return (article, chunks, vectors, extra), sentences


def put(store: ChromaStore, writes: Sequence[Write]) -> None:
    """`writes` stored as ingest stores them."""
    store.put_articles(
        [w for w, _ in writes], {k: v for _, rows in writes for k, v in rows.items()}
    )


def build_store(s: Settings, embedder: LocalEmbedder, target: int) -> tuple[dict, list[Article]]:
    """~`target` chunks of generated articles in the store (kept when already there), and
    the generated articles not stored (for the writers)."""
    store = ChromaStore(
        client_factory(s), store_identity(embedder.name), prefix=s.collection_prefix
    )
    # Three of bench.run's articles (6-14 sentences, ~1.5 chunks each at chunk_tokens 400) as
    # the paragraphs of one: ~4.5 chunks, as a news article of 20-40 sentences. (Alone they make
    # 100k chunks of 65k articles, past the 32,766 records a Chroma 1.5 `get` may match, which
    # `ChromaStore.records` (every lexical sync) exceeds: it fails there, "too many SQL variables".)
    parts = generated_articles(3 * target)
    articles = [
        dataclasses.replace(parts[i], body="\n\n".join(p.body for p in parts[i : i + 3]))
        for i in range(0, len(parts) - 2, 3)
    ]
    stored, total = set(store.records()), store.counts()[1]
    rng, batch, started = np.random.default_rng(0), [], time.perf_counter()
    for article in articles:
        if total >= target:
            break
        if article.doc_id not in stored:
            batch.append(write_item(article, embedder, s, rng))
            total += len(batch[-1][0][1])
        if len(batch) == 500:
            put(store, batch)
            stored.update(w[0].doc_id for w, _ in batch)
            batch = []
            print(f"  {total} chunks, {time.perf_counter() - started:.0f}s", flush=True)
    put(store, batch)
    stored.update(w[0].doc_id for w, _ in batch)
    built = dict(zip(("articles", "chunks"), store.counts(), strict=True))
    built["build_s"] = round(time.perf_counter() - started)
    return built, [a for a in articles if a.doc_id not in stored]


def child(job: str, data_dir: Path) -> dict[str, float]:
    """One cold-start job, in a fresh process (`--child`)."""
    s = load_settings(data_dir=data_dir)
    if job == "service":
        return {"warm_up_s": round(timed(lambda: NewsQA.from_settings(s).warm_up()), 2)}
    store = ChromaStore(
        client_factory(s), store_identity(embedder_from_settings(s).name), s.collection_prefix
    )
    if job == "lexical":
        return {"snapshot_s": round(timed(LiveLexical(store, data_dir / "lexical").snapshot), 2)}
    read: list[Any] = []
    read_s = timed(lambda: read.append(store.all_chunks()))
    build_s = timed(lambda: LexicalCorpus.build(read[0]))
    return {
        "read_all_s": round(read_s, 2),
        "build_s": round(build_s, 2),
        "total_s": round(read_s + build_s, 2),
    }


def run_child(job: str, data_dir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "bench.concurrency", "--child", job, "--data", str(data_dir)]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "process_s": round(time.perf_counter() - started, 2)}


def refresh_cost(service: NewsQA, new_item: Callable[[], Write]) -> dict[str, Any]:
    """`lexical.refresh()` after no change, after one article added, after one deleted."""
    store, refresh = service.store, service.lexical.refresh
    unchanged = [timed(refresh) for _ in range(3)]
    items, added, deleted = [new_item() for _ in range(SAMPLES)], [], []
    for item in items:
        put(store, [item])
        added.append(timed(refresh))
    for (article, *_), _ in items:
        store.delete_article(article.doc_id)
        deleted.append(timed(refresh))
    return {
        "unchanged": latency(unchanged),
        "one_added": latency(added),
        "one_deleted": latency(deleted),
        "store_records_read_ms": ms(timed(store.records)),  # what a full check reads
    }


def run_100k(work: Path, n_questions: int, target: int) -> dict[str, Any]:
    # random vectors: the evidence floor off, as in bench.server_100k (RANDOM_VECTORS_ENV)
    s = load_settings(data_dir=work / "100k", evidence_abstain_below=0.0)
    embedder = embedder_from_settings(s)
    print(f"[100k] building ~{target} chunks (random vectors)", flush=True)
    built, spare = build_store(s, embedder, target)
    print(f"[100k] {built}", flush=True)
    fresh, rng = iter(spare), np.random.default_rng(1)
    shutil.rmtree(s.data_dir / "lexical", ignore_errors=True)  # a kept store's saved index
    service = NewsQA.from_settings(s)
    started = time.perf_counter()
    service.lexical.snapshot()  # no saved index: read every chunk, build, save
    first_lexical_s = time.perf_counter() - started
    service.warm_up()
    print("[100k] cold starts in fresh processes", flush=True)
    cold = {job: run_child(job, s.data_dir) for job in ("rebuild", "lexical", "service")}
    print(f"  {cold}\n[100k] refresh cost", flush=True)

    def new_item() -> Write:
        return write_item(next(fresh), embedder, s, rng)

    refresh = refresh_cost(service, new_item)
    refresh["one_added_p50_vs_rebuild"] = ratio(
        refresh["one_added"]["p50_ms"], 1000 * cold["rebuild"]["total_s"]
    )
    print(f"  {refresh}", flush=True)

    def put_refresh() -> Article:
        with service._writing:  # what ingest does once the vectors are computed
            item = new_item()
            put(service.store, [item])
            service.lexical.refresh()
        return item[0][0]

    ingest_one, ingest_own = ingesters(service, fresh)
    writers = {"put_refresh": put_refresh, "ingest": ingest_one, "ingest_own_model": ingest_own}
    service.watch_store()  # as `newsrag serve` does (not during the refresh timings)
    print(f"[100k] {n_questions} questions idle, then while writing", flush=True)
    questions = squad_questions(None, WARM_UP + (2 * len(writers) + 1) * n_questions)
    result = busy_vs_idle(service, questions, writers, cold=True)
    print("[100k] answerable after a write", flush=True)
    result["answerable"] = answerable(service, ingest_one, SAMPLES)
    service.close()
    return {
        "store": built,
        "first_lexical_build_s": round(first_lexical_s, 1),
        "cold_start": cold,
        "lexical_cold_vs_rebuild": ratio(cold["lexical"]["snapshot_s"], cold["rebuild"]["total_s"]),
        "refresh": refresh,
        **result,
    }


def check(name: str, value: float, target: float, note: str = "") -> str:
    return (
        f"{name}: {value:g} (target <= {target:g}: {'met' if value <= target else 'MISSED'}) {note}"
    )


def checks(results: dict[str, Any]) -> list[str]:
    """The figures the issue sets targets for, and the others, one line each."""
    lines = []
    for size, r in results["sizes"].items():
        for key in [k for k in r if k.startswith("during_")]:
            busy = r[key]
            q, idle, w = busy["questions"], busy["idle_around"], busy["writer"]
            note = (
                f"(p95 {q['p95_ms']} ms vs {idle['p95_ms']} ms idle around; p50 {q['p50_ms']} vs "
                f"{idle['p50_ms']} ms, x{busy['p50_ratio']}; max {q['max_ms']} ms; {q['errors']} "
                f"errors; writer {w['articles_per_s']} articles/s)"
            )
            lines.append(check(f"{size} {key} p95/idle p95", busy["p95_ratio"], 3.0, note))
        if size == "squad":
            phases = [v for k, v in r.items() if k.startswith(("idle_", "during_"))]
            slowest = max(v.get("questions", v)["max_ms"] for v in phases)
            lines.append(check(f"{size} slowest question s", slowest / 1000, 2.0))
        a, own = r["answerable"]["second_instance"], r["answerable"]["writer_had_it"]
        note = f"(p50 {a['p50_ms']} ms; the writer's own snapshot had it at return: {own})"
        name = f"{size} from a write's return to a 2nd instance's snapshot, max s"
        lines.append(check(name, a["max_ms"] / 1000, 5.0, note))
        if "refresh" in r:
            f, c = r["refresh"], r["cold_start"]
            lines.append(
                f"{size} refresh p50 ms: one added {f['one_added']['p50_ms']}, one deleted "
                f"{f['one_deleted']['p50_ms']}, none {f['unchanged']['p50_ms']}; cold start: "
                f"lexical {c['lexical']['snapshot_s']} s, warm_up {c['service']['warm_up_s']} s;"
                f" full rebuild {c['rebuild']['total_s']} s"
            )
    return lines


def code_digest() -> str:
    """The Python sources' digest: the working tree may change between (or during) runs."""
    digest = hashlib.sha256()
    for folder in ("rag", "vectorstore", "eval", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="squad,100k")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=100_000, help="the 100k size's chunks")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results/concurrency.json")
    parser.add_argument("--keep", type=Path, help="build the 100k store here and keep it (re-runs)")
    parser.add_argument(
        "--child", choices=("rebuild", "lexical", "service"), help=argparse.SUPPRESS
    )
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data)))
        return
    if set(args.sizes.split(",")) - {"squad", "100k"}:
        parser.error(f"--sizes: squad and/or 100k, not {args.sizes}")
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.concurrency " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
        "code_at_start": code_digest(),
        "sizes": {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsrag-concurrency-") as tmp:
        work = args.keep or Path(tmp)
        for size in args.sizes.split(","):
            if size == "squad":
                results["sizes"][size] = run_squad(Path(tmp), args.questions)
            else:  # 100k
                results["sizes"][size] = run_100k(work, args.questions, args.chunks)
            results["load_average_end"] = round(os.getloadavg()[0], 1)
            results["code_at_end"] = code_digest()  # another means the sources changed meanwhile
            args.out.write_text(json.dumps(results, indent=2))
    print("\n".join(checks(results)))
    results["checks"] = checks(results)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
