"""`newsrag reindex`: a store embedded with one model re-embedded with another, resumably.

Two real models with different names: the bundled MiniLM and the same folder linked
under tmp/"other-minilm" (a store records the folder's name). Real Chroma stores.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from eval.datasets import SQUAD_IT
from rag.cli import main
from rag.errors import ModelMismatchError, StoreError
from rag.retrieval.lexical_store import load
from rag.service import NewsQA
from rag.settings import load_settings
from tests.conftest import KREMLIN_DOC, ROOT, SEEDS, make_service
from tests.test_answers import assert_citations_verbatim
from tests.test_cli import NEWSRAG, run
from vectorstore import switch
from vectorstore.clients import chroma_client, client_factory
from vectorstore.documents import Article
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.loaders import read_articles
from vectorstore.records import store_identity
from vectorstore.store import ChromaStore

MINILM = store_identity("all-MiniLM-L6-v2")  # what a store written by this code records
OTHER_FOLDER = "other-minilm"
OTHER = store_identity(OTHER_FOLDER)
KREMLIN_QUESTION = "Chi è il portavoce del Cremlino?"
LIVE = set(switch.names("newsrag"))


@pytest.fixture(scope="session")
def other(tmp_path_factory: pytest.TempPathFactory) -> LocalEmbedder:
    """The bundled MiniLM under another folder name: a second real model."""
    folder = tmp_path_factory.mktemp("models") / OTHER_FOLDER
    shutil.copytree(bundled_model_path(), folder, copy_function=os.symlink)
    return LocalEmbedder(folder)


def seed_articles() -> list[Article]:
    return [a for p in sorted(SEEDS.glob("*.txt")) for a in read_articles(p, 10**6)[0]]


def squad_articles(n: int) -> list[Article]:
    """SQuAD-it paragraphs as articles (with the seeds: a store of a few dozen chunks)."""
    data = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    contexts = [p["context"] for entry in data["data"] for p in entry["paragraphs"]]
    return [
        Article(f"p{i:03d}", text.split(".")[0][:80], "2024-01-01", f"p{i:03d}.txt", text)
        for i, text in enumerate(contexts[:n])
    ]


def snapshot(store: ChromaStore) -> dict[str, tuple[Any, ...]]:
    """Each article as stored: every field, its hash and its duplicate keys."""
    records = store.records()
    return {
        doc_id: (s.article, records[doc_id]["content_hash"], records[doc_id]["fingerprint"],
                 records[doc_id]["minhash"], s.chunks)
        for doc_id, s in store.get_articles().items()
    }  # fmt: skip


def chunk_places(store: ChromaStore) -> list[tuple[str, int, int, int]]:
    """(chunk id, index, start, end) of every chunk record, duplicates included."""
    ids, metas = store.chunk_records()
    return sorted((i, m["index"], m["start"], m["end"]) for i, m in zip(ids, metas, strict=True))


def collections(data_dir: Path) -> set[str]:
    return {c.name for c in chroma_client(data_dir).list_collections()}


def clean_ingest(tmp: Path, embedder: LocalEmbedder, articles: list[Article]) -> NewsQA:
    clean = make_service(tmp, embedder)
    assert len(clean.ingest_articles(articles).added) == len(articles)
    return clean


def test_switch_is_finished_from_any_step() -> None:
    """Pure: from every state a crash can leave, `next_step` takes the remaining steps in
    order; before the commit it takes none; a state it cannot explain deletes nothing."""
    live, staging, old = switch.names("p"), switch.names("p", "reindex"), switch.names("p", "old")
    assert live == ("p_chunks", "p_articles")
    assert staging == ("p__reindex_chunks", "p__reindex_articles")
    steps = [
        switch.Step(live[0], old[0]),
        switch.Step(live[1], old[1]),
        switch.Step(staging[0], live[0]),
        switch.Step(staging[1], live[1]),
        switch.Step(old[0]),
        switch.Step(old[1]),
    ]
    state = {*live, *staging}
    assert switch.next_step("p", state) is None  # building: not committed, nothing to do
    for n, step in enumerate(steps):
        if n:  # step 1 is the reindex's own (the commit); a re-run finds each later one
            assert switch.next_step("p", state) == step
        state.discard(step.name)
        state |= {step.to} if step.to else set()
    assert state == set(live) and switch.next_step("p", state) is None
    with pytest.raises(StoreError, match="Nothing was deleted"):
        switch.next_step("p", {old[0], old[1]})  # nothing would replace them
    with pytest.raises(StoreError, match="newsrag reindex"):
        switch.next_step("p", {live[0], old[0], staging[0], *old[1:], *staging[1:]})


@pytest.mark.integration
def test_another_model_is_refused_with_both_names_and_the_fix(
    tmp_path: Path, minilm: LocalEmbedder, other: LocalEmbedder
) -> None:
    make_service(tmp_path, minilm).ingest([SEEDS])
    with pytest.raises(ModelMismatchError) as refused:
        make_service(tmp_path, other).ask(KREMLIN_QUESTION)
    assert (refused.value.stored, refused.value.configured) == (MINILM, OTHER)
    message = str(refused.value)
    assert MINILM in message and OTHER in message and "`newsrag reindex`" in message


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_reindex_switches_the_store_and_answers_still_cite_verbatim(
    mode: str,
    request: pytest.FixtureRequest,
    minilm: LocalEmbedder,
    other: LocalEmbedder,
    tmp_path: Path,
) -> None:
    """On the embedded store and on a `chroma run` server (own collections)."""
    url = request.getfixturevalue("chroma_server") if mode == "server" else None
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings = load_settings(data_dir=tmp_path / "data", chroma_url=url, collection_prefix=prefix)
    old = NewsQA(settings, ChromaStore(client_factory(settings), MINILM, prefix), minilm)
    old.ingest([SEEDS])
    assert "Peskov" in old.ask(KREMLIN_QUESTION).answer  # saves a BM25 index
    before, places = snapshot(old.store), chunk_places(old.store)
    new = NewsQA(
        settings,
        ChromaStore(client_factory(settings), OTHER, prefix=settings.collection_prefix),
        other,
    )
    report = new.reindex()
    assert report.switched and (report.from_model, report.to_model) == (MINILM, OTHER)
    assert (report.articles, report.embedded, report.resumed) == (2, 2, 0)
    assert report.chunks == len(places) and "reindexed 2 articles" in report.summary()
    saved = load(settings.data_dir / "lexical", OTHER)  # the index saved is the new store's
    assert saved is not None and saved.corpus.live_chunks() == new.store.all_chunks()
    assert load(settings.data_dir / "lexical", MINILM) is None
    assert snapshot(new.store) == before  # ids, titles, dates, sources, bodies, duplicate keys
    assert chunk_places(new.store) == places  # the same tokenizer: the same chunks
    assert new._lexical().chunks == new.store.all_chunks()
    answer = new.ask(KREMLIN_QUESTION)
    assert "Peskov" in answer.answer and answer.citations[0].doc_id == KREMLIN_DOC
    assert_citations_verbatim(new, answer)
    client = new.store.client()
    assert switch.existing(client, switch.all_names(settings.collection_prefix)) == set(
        switch.names(settings.collection_prefix)
    )
    assert client.get_collection(new.store.collection_names[1]).metadata == {
        "embedding_model": OTHER
    }
    with pytest.raises(ModelMismatchError, match=re.escape(OTHER)):  # the old model no longer fits
        ChromaStore(client_factory(settings), MINILM, prefix=settings.collection_prefix).counts()
    again = new.reindex()
    assert not again.switched and again.summary() == (
        f"the store is already embedded with {OTHER!r}: nothing to do"
    )
    assert snapshot(new.store) == before


@pytest.mark.integration
def test_reindex_minilm_to_e5_rechunks_with_the_new_tokenizer(
    tmp_path: Path, minilm: LocalEmbedder, embedder: LocalEmbedder
) -> None:
    """The real change of default: another tokenizer and window, so other chunks (whose
    ids may be the old ones: the saved BM25 index of the old chunks must not come back)."""
    e5 = embedder
    assert e5.name == "multilingual-e5-small"
    data = tmp_path / "data"
    old = make_service(data, minilm)
    old.ingest([SEEDS])
    old.ask(KREMLIN_QUESTION)  # saves the BM25 index of the MiniLM chunks
    before, places = snapshot(old.store), chunk_places(old.store)
    new = make_service(data, e5)
    report = new.reindex()
    assert report.switched and report.to_model == store_identity("multilingual-e5-small")
    assert snapshot(new.store).keys() == before.keys()
    assert [v[:4] for v in snapshot(new.store).values()] == [v[:4] for v in before.values()]
    clean = clean_ingest(tmp_path / "clean", e5, seed_articles())
    assert chunk_places(new.store) == chunk_places(clean.store) != places
    assert new._lexical().chunks == new.store.all_chunks()  # rebuilt, not the saved one
    answer = new.ask(KREMLIN_QUESTION)
    assert "Peskov" in answer.answer
    assert_citations_verbatim(new, answer)


@pytest.mark.integration
def test_interrupted_reindex_leaves_the_old_store_whole_and_resumes(
    tmp_path: Path, minilm: LocalEmbedder, other: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    articles = seed_articles() + squad_articles(10)
    make_service(data, minilm).ingest_articles(articles)
    old = make_service(data, minilm)
    before, places = snapshot(old.store), chunk_places(old.store)
    new = make_service(data, other, ingest_batch=8)  # many model calls: one batch of ~8 chunks
    calls = 0
    embed = other.embed_documents

    def interrupted(texts: list[str]) -> list[list[float]]:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt  # Ctrl-C amid the reindex
        return embed(texts)

    monkeypatch.setattr(other, "embed_documents", interrupted)
    with pytest.raises(KeyboardInterrupt):
        new.reindex()
    monkeypatch.undo()
    assert collections(data) == LIVE | set(switch.names("newsrag", switch.STAGING))
    staged = new.store.on_collections(switch.names("newsrag", switch.STAGING), OTHER)
    assert 0 < staged.counts()[0] < len(articles)  # interrupted mid-way

    # The old configuration still reads the old store, whole.
    reader = make_service(data, minilm)
    assert snapshot(reader.store) == before and chunk_places(reader.store) == places
    answer = reader.ask(KREMLIN_QUESTION)
    assert "Peskov" in answer.answer
    assert_citations_verbatim(reader, answer)
    with pytest.raises(ModelMismatchError):
        new.ask(KREMLIN_QUESTION)

    report = new.reindex()
    assert report.switched and 0 < report.resumed < len(articles)
    assert report.resumed + report.embedded == len(articles)
    assert collections(data) == LIVE  # no staging or old collections left
    assert snapshot(new.store) == before  # every article once, as it was
    clean = clean_ingest(tmp_path / "clean", other, articles)
    after = chunk_places(new.store)
    assert after == chunk_places(clean.store) and len({p[0] for p in after}) == len(after)
    assert_citations_verbatim(new, new.ask(KREMLIN_QUESTION))


def half_switched(data: Path, steps: int) -> None:
    """Take the switch's first `steps` steps by hand, as a crash after them would leave it."""
    client = chroma_client(data)
    live, old = switch.names("newsrag"), switch.names("newsrag", switch.OLD)
    client.get_collection(live[0]).modify(name=old[0])  # step 1, the commit point
    for _ in range(steps - 1):
        step = switch.next_step("newsrag", switch.existing(client, switch.all_names("newsrag")))
        assert step is not None
        if step.to:
            client.get_collection(step.name).modify(name=step.to)
        else:
            client.delete_collection(step.name)


@pytest.mark.integration
@pytest.mark.parametrize(("steps", "finisher"), [(1, "open"), (3, "reindex"), (5, "open")])
def test_a_switch_cut_short_is_finished_by_the_next_open_or_reindex(
    steps: int,
    finisher: str,
    tmp_path: Path,
    minilm: LocalEmbedder,
    other: LocalEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    make_service(data, minilm).ingest([SEEDS])
    before = snapshot(make_service(data, minilm).store)

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(switch, "commit_switch", crash)
    with pytest.raises(KeyboardInterrupt):
        make_service(data, other).reindex()  # the staging is complete, nothing switched
    monkeypatch.undo()
    half_switched(data, steps)
    new = make_service(data, other)
    if finisher == "reindex":
        assert "finished the switch" in new.reindex().summary()
    answer = new.ask(KREMLIN_QUESTION)  # opening the store finishes the switch
    assert "Peskov" in answer.answer
    assert_citations_verbatim(new, answer)
    assert collections(data) == LIVE and snapshot(new.store) == before


@pytest.mark.integration
def test_an_empty_store_needs_no_reindex(
    tmp_path: Path, minilm: LocalEmbedder, other: LocalEmbedder
) -> None:
    """(An already re-embedded store: the end of the switch test.)"""
    assert make_service(tmp_path / "none", other).reindex().summary() == (
        "the store holds no articles: nothing to re-embed"
    )
    assert not (tmp_path / "none" / "chroma").exists() or not collections(tmp_path / "none")
    empty = tmp_path / "empty"
    make_service(empty, minilm).health()  # creates the collections, for MiniLM
    new = make_service(empty, other)
    assert "no articles" in new.reindex().summary()
    assert new.health()["documents"] == 0  # an empty store takes any model, no reindex
    assert chroma_client(empty).get_collection("newsrag_chunks").metadata == {
        "embedding_model": OTHER
    }


def reindex_and_kill(data: Path, env: dict[str, str]) -> None:
    """Start `newsrag reindex` and SIGKILL it once its progress shows a few batches stored."""
    proc = subprocess.Popen(
        [NEWSRAG, "reindex"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, **env, "NEWSRAG_DATA_DIR": str(data)},
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    while chunk := os.read(proc.stderr.fileno(), 4096):
        seen += chunk.decode(errors="replace")
        counts = [int(n) for n in re.findall(r"(\d+) chunks, ", seen[-400:])]
        if counts and max(counts) >= 3 * CLI_BATCH:
            time.sleep(0.3)  # into the next batch: embedding it or writing it
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, seen[-2000:]


CLI_BATCH = 8


@pytest.mark.integration
def test_cli_reindex_killed_then_resumed(
    tmp_path: Path,
    minilm: LocalEmbedder,
    other: LocalEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`ask` and `serve` on a store of another model: the error and its fix, exit code 2,
    no traceback (through the console entry point, in-process to spare two interpreter
    starts). `newsrag reindex` SIGKILLed mid-way leaves the old store whole; run again,
    it shows progress, resumes and says so."""
    data = tmp_path / "data"
    articles = seed_articles() + squad_articles(20)
    make_service(data, minilm).ingest_articles(articles)
    old = make_service(data, minilm)
    before, places = snapshot(old.store), chunk_places(old.store)
    env = {
        "NEWSRAG_EMBEDDING_MODEL": str(other.model_path),
        "NEWSRAG_EMBEDDING_BACKEND": "torch",
        "NEWSRAG_INGEST_BATCH": str(CLI_BATCH),
    }
    for name, value in {**env, "NEWSRAG_DATA_DIR": str(data)}.items():
        monkeypatch.setenv(name, value)
    for command in (["ask", KREMLIN_QUESTION], ["serve", "--port", "1"]):
        monkeypatch.setattr(sys, "argv", ["newsrag", *command])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        stderr = " ".join(capsys.readouterr().err.split())
        assert "Traceback" not in stderr
        assert f"the store was embedded with {MINILM!r}, but newsrag is configured for" in stderr
        assert f"{OTHER!r}: run `newsrag reindex`" in stderr

    reindex_and_kill(data, env)
    staged = make_service(data, other).store.on_collections(
        switch.names("newsrag", switch.STAGING), OTHER
    )
    assert 0 < staged.counts()[0] < len(articles), "the kill did not land mid-way"
    old = make_service(data, minilm)  # as a new process of the old configuration
    assert snapshot(old.store) == before and chunk_places(old.store) == places
    assert_citations_verbatim(old, old.ask(KREMLIN_QUESTION))

    done = run("reindex", data_dir=data, **env)
    assert done.returncode == 0, done.stderr
    assert "re-embedding" in done.stderr and f"{len(articles)}/{len(articles)}" in done.stderr
    summary = re.search(r"reindexed (\d+) articles from (.+?) to (.+?): (\d+) embedded, "
                        r"(\d+) already done by an interrupted run", done.stdout)  # fmt: skip
    assert summary, done.stdout
    total, source, target, embedded, resumed = summary.groups()
    assert (int(total), source, target) == (len(articles), repr(MINILM), repr(OTHER))
    assert int(embedded) + int(resumed) == len(articles) and int(resumed) > 0
    assert "BM25 index saved" in done.stdout
    new = make_service(data, other)
    assert collections(data) == LIVE and snapshot(new.store) == before
    after = chunk_places(new.store)
    assert len(after) == len(places) and len({p[0] for p in after}) == len(after)
    answer = new.ask(KREMLIN_QUESTION)
    assert "Peskov" in answer.answer
    assert_citations_verbatim(new, answer)
