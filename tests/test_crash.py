"""Crash safety: `newsrag ingest` killed with SIGKILL mid-way, re-run, equals a clean ingest."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from eval.datasets import SQUAD_IT
from tests.conftest import ROOT, make_service
from vectorstore.embeddings import LocalEmbedder
from vectorstore.records import PENDING

pytestmark = pytest.mark.integration
NEWSRAG = str(Path(os.sys.executable).parent / "newsrag")  # type: ignore[attr-defined]
ARTICLES = 60
BATCH = 8  # small batches: many store writes, so the kill lands amid them


def write_articles(folder: Path) -> None:
    """SQuAD-it paragraphs as one article each (a few hundred chunks in all)."""
    data = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    contexts = [p["context"] for entry in data["data"] for p in entry["paragraphs"]]
    folder.mkdir()
    for i, text in enumerate(contexts[:ARTICLES]):
        (folder / f"p{i:03d}.txt").write_text(text, encoding="utf-8")


def ingest_and_kill(folder: Path, data_dir: Path, env: dict[str, str]) -> str:
    """Start an ingest, SIGKILL it once its progress shows some batches stored."""
    proc = subprocess.Popen(
        [NEWSRAG, "ingest", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    stored = threading.Event()

    def watch() -> None:
        assert proc.stderr is not None
        while chunk := os.read(proc.stderr.fileno(), 4096):
            seen.append(chunk.decode(errors="replace"))
            counts = [int(n) for n in re.findall(r"(\d+) chunks, ", "".join(seen[-3:]))]
            if counts and max(counts) >= 3 * BATCH:
                stored.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert stored.wait(timeout=240), "".join(seen)[-2000:]
    time.sleep(0.3)  # into the next batch: embedding it or writing it
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    thread.join(timeout=5)
    assert proc.returncode == -signal.SIGKILL
    return "".join(seen)


def test_sigkill_mid_ingest_then_rerun_equals_a_clean_ingest(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    folder = tmp_path / "articles"
    write_articles(folder)
    crashed = tmp_path / "crashed"
    env = {**os.environ, "NEWSRAG_DATA_DIR": str(crashed), "NEWSRAG_INGEST_BATCH": str(BATCH)}
    first = tmp_path / "first"  # a completed ingest first, so a lexical index is saved
    first.mkdir()
    for path in sorted(folder.iterdir())[:5]:
        (first / path.name).write_bytes(path.read_bytes())
    done = subprocess.run([NEWSRAG, "ingest", str(first)], capture_output=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    ingest_and_kill(folder, crashed, env)

    partial = make_service(crashed, embedder)
    articles_after_kill, chunks_after_kill = partial.store.counts()
    assert 5 < articles_after_kill < ARTICLES, "the kill did not land mid-way"
    # The saved lexical index knew 5 articles; loaded, it is repaired against the store:
    # exactly the articles written completely before the kill, each with all its chunks.
    complete = {d for d, h in partial.store.content_hashes().items() if h != PENDING}
    corpus = partial._lexical()
    assert corpus.doc_ids() == complete and len(complete) > 5
    assert sorted(corpus.live_chunks(), key=lambda c: (c.doc_id, c.index)) == [
        c for c in partial.store.all_chunks() if c.doc_id in complete
    ]
    del partial, corpus

    rerun = subprocess.run(
        [NEWSRAG, "ingest", str(folder)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    clean = make_service(tmp_path / "clean", embedder, ingest_batch=BATCH)
    clean_report = clean.ingest([folder])
    recovered = make_service(crashed, embedder)

    def snapshot(svc: object) -> tuple[dict[str, str], list[str]]:
        store = svc.store  # type: ignore[attr-defined]
        got = store.chunks.get(include=[])
        return store.content_hashes(), sorted(got["ids"])

    clean_hashes, clean_ids = snapshot(clean)
    hashes, ids = snapshot(recovered)
    assert hashes == clean_hashes and PENDING not in hashes.values()
    assert len(hashes) == len(clean_report.added) > articles_after_kill
    assert ids == clean_ids and len(ids) == len(set(ids)) >= chunks_after_kill
    chunks = recovered.store.all_chunks()
    assert len({(c.doc_id, c.index) for c in chunks}) == len(chunks)
    for doc_id, stored in recovered.store.get_articles().items():
        own = [c for c in chunks if c.doc_id == doc_id]
        assert stored.chunks == len(own) and all(
            stored.article.body[c.start : c.end] == c.text for c in own
        )
    question = "Quale società possiede l'American Broadcasting Company?"
    answer = recovered.ask(question)
    assert not answer.abstained and answer.citations
    expected = clean.ask(question)
    assert answer.answer == expected.answer and answer.citations == expected.citations
    # The same passages; their scores may differ in the last digits, since the recovered
    # store's vector index was written twice (HNSW neighbours are approximate).
    assert [(s.doc_id, s.start, s.end) for s in answer.sources] == [
        (s.doc_id, s.start, s.end) for s in expected.sources
    ]
