"""The lexical index kept in step with a real Chroma store: changed in place, saved, repaired
after a crash or another process's writes, and read while writes run (issue 19)."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.retrieval import lexical_store
from rag.retrieval.corpus import Batch, LexicalCorpus
from rag.retrieval.lexical_store import MANIFEST, Indexed, changes, load, store_versions
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEEDS, make_service
from vectorstore.embeddings import LocalEmbedder
from vectorstore.records import PENDING, WRITTEN

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Cosa ha detto il Cremlino?",
    "Chi ha vinto le elezioni?",
    "Quando è stato firmato l'accordo?",
    "Putin Ucraina negoziati",
    "What did the Kremlin say?",
]
OTHER_DOC = "000_8a743153ebfc5c65"


def scored(corpus: LexicalCorpus, text: str, dates: tuple[Any, Any] = (None, None)) -> dict:
    """Every matching chunk (by id, not position) with its three BM25 parts, rounded."""
    parts = corpus.scores(text, 10_000, corpus.mask(*dates))
    return {corpus.chunks[p].chunk_id: tuple(round(x, 6) for x in v) for p, v in parts.items()}


def assert_same_corpus(got: LexicalCorpus, want: LexicalCorpus) -> None:
    """The same live chunks, statistics and scores as a corpus built afresh: positions may
    differ (an index changed in place appends), nothing a question sees does."""
    key = lambda c: (c.doc_id, c.index)  # noqa: E731
    assert sorted(got.live_chunks(), key=key) == sorted(want.live_chunks(), key=key)
    for a, b in (
        (got.index, want.index),
        (got.sentences, want.sentences),
        (got.prefixes, want.prefixes),
    ):
        assert (a.size, a.k1, a.b) == (b.size, b.k1, b.b)
        assert a.avg_length == pytest.approx(b.avg_length)
        assert a.doc_freq == b.doc_freq
    for question in QUESTIONS:
        for dates in ((None, None), (dt.date(2020, 1, 1), None)):
            assert scored(got, question, dates) == scored(want, question, dates)


def fresh(service: NewsQA) -> LexicalCorpus:
    return LexicalCorpus.build(service.store.all_chunks())


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def seed_file(folder: Path, doc_id: str) -> Path:
    return next(folder.glob(f"{doc_id}*"))


def counting_batches(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The articles of every batch of chunks analysed from now on."""
    seen: list[set[str]] = []
    real = Batch.of.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Batch], chunks: list[Any]) -> Batch:
        seen.append({c.doc_id for c in chunks})
        return real(cls, chunks)  # type: ignore[no-any-return]

    monkeypatch.setattr(Batch, "of", classmethod(spy))
    return seen


# pure logic -------------------------------------------------------------------------------
def test_changes_compares_versions() -> None:
    indexed = {"a": "h1:3", "b": "h2:1", "c": "h3:2"}
    stored = {"a": "h1:3", "b": "h9:1", "d": "h4:5"}  # b changed, c deleted, d new
    assert changes(indexed, stored) == ({"b", "c"}, {"b", "d"})
    # an article being rewritten leaves the index at once: its stored body may be the new one
    assert changes(indexed, {**stored, "a": "h1:3"}, pending={"a"}) == ({"a", "b", "c"}, {"b", "d"})
    assert changes(indexed, indexed) == (set(), set())


def test_a_corpus_changed_in_place_equals_one_built_afresh(service: NewsQA, articles: Path) -> None:
    service.ingest([articles])
    chunks = service.store.all_chunks()
    one = [c for c in chunks if c.doc_id == OTHER_DOC]
    two = [c for c in chunks if c.doc_id == KREMLIN_DOC]
    grown = LexicalCorpus.build(one).added(two)
    assert len(grown.index.segments) == 2
    assert_same_corpus(grown, LexicalCorpus.build(chunks))
    shrunk = grown.removed([OTHER_DOC])
    assert len(shrunk.chunks) == len(chunks)  # positions stay until tidied
    assert_same_corpus(shrunk, LexicalCorpus.build(two))
    tidy = shrunk.tidied()
    assert len(tidy.chunks) == len(two) and len(tidy.index.segments) == 1
    assert_same_corpus(tidy, LexicalCorpus.build(two))
    assert grown.removed(["no-such-article"]) is grown


def test_many_small_segments_are_merged_without_moving_positions(
    service: NewsQA, articles: Path
) -> None:
    service.ingest([articles])
    chunks = service.store.all_chunks()
    corpus = LexicalCorpus.build(chunks[:1])
    for chunk in chunks[1:]:  # one segment per chunk, as if each were an article
        corpus = corpus.added([chunk])
    merged = corpus.tidied()
    assert len(corpus.index.segments) == len(chunks) > len(merged.index.segments) == 2
    assert merged.chunks == corpus.chunks
    assert_same_corpus(merged, LexicalCorpus.build(chunks))


# the service and the store ----------------------------------------------------------------
def test_an_ingest_adds_only_its_articles_and_a_restart_loads_the_saved_index(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    first = make_service(data, embedder)
    first.ingest([seed_file(articles, OTHER_DOC)])
    first._lexical()
    batches = counting_batches(monkeypatch)
    first.ingest([articles])  # the other seed is unchanged: only the Kremlin one is analysed
    assert batches == [{KREMLIN_DOC}]
    assert_same_corpus(first._lexical(), fresh(first))
    assert (data / "lexical" / MANIFEST).is_file()

    batches.clear()
    second = make_service(data, embedder)
    second.warm_up()
    assert batches == []  # loaded, not rebuilt
    assert_same_corpus(second._lexical(), fresh(second))
    assert second.ask("Cosa ha detto il Cremlino?").citations


def test_updates_and_deletes_by_another_instance_are_picked_up(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path
) -> None:
    data = tmp_path / "data"
    reader = make_service(data, embedder)
    reader.ingest([articles])
    reader._lexical()
    writer = make_service(data, embedder)  # another process on the same store and folder

    changed = seed_file(articles, KREMLIN_DOC)
    changed.write_text(
        changed.read_text() + "\nIl Cremlino ha poi annunciato un vertice a Tbilisi."
    )
    assert writer.ingest([articles]).updated == [KREMLIN_DOC]
    corpus = reader.lexical.refresh().corpus  # what its watcher does every second
    assert any("Tbilisi" in c.text for c in corpus.live_chunks())
    assert_same_corpus(corpus, fresh(reader))
    assert "Tbilisi" in reader.ask("Dove si terrà il vertice annunciato dal Cremlino?").answer

    assert writer.delete(KREMLIN_DOC)
    assert KREMLIN_DOC not in reader.lexical.refresh().corpus.doc_ids()
    restarted = make_service(data, embedder)
    assert_same_corpus(restarted._lexical(), fresh(restarted))


def test_a_refresh_reads_only_recent_records_unless_the_count_disagrees(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every record is read at start-up; later, the records written since the last check,
    and every record again only when the article count says something was deleted."""
    data = tmp_path / "data"
    reader = make_service(data, embedder)
    reader.ingest([seed_file(articles, OTHER_DOC)])
    reader._lexical()
    writer = make_service(data, embedder)
    full_reads: list[int] = []
    records = reader.store.records
    monkeypatch.setattr(reader.store, "records", lambda: full_reads.append(1) or records())
    writer.ingest([articles])
    assert KREMLIN_DOC in reader.lexical.refresh().corpus.doc_ids() and not full_reads
    assert reader.lexical.refresh().corpus.doc_ids() == {OTHER_DOC, KREMLIN_DOC}
    assert not full_reads
    writer.delete(OTHER_DOC)
    assert reader.lexical.refresh().corpus.doc_ids() == {KREMLIN_DOC} and full_reads == [1]


def test_a_saved_index_older_than_the_store_is_repaired_at_start(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed after its write reached Chroma but before it saved the index: the
    next start loads the old index and repairs only the difference."""
    data = tmp_path / "data"
    first = make_service(data, embedder)
    first.ingest([seed_file(articles, OTHER_DOC)])
    old = tmp_path / "old-lexical"
    shutil.copytree(data / "lexical", old)
    first.ingest([articles])
    first.delete(OTHER_DOC)
    shutil.rmtree(data / "lexical")
    shutil.copytree(old, data / "lexical")  # as the killed process left it

    batches = counting_batches(monkeypatch)
    restarted = make_service(data, embedder)
    corpus = restarted._lexical()
    assert batches == [{KREMLIN_DOC}]
    assert corpus.doc_ids() == {KREMLIN_DOC}
    assert_same_corpus(corpus, fresh(restarted))


def test_a_damaged_or_foreign_saved_index_is_rebuilt(service: NewsQA, articles: Path) -> None:
    folder = service.settings.data_dir / "lexical"
    service.ingest([articles])
    want = fresh(service)
    rows = next(folder.glob("*.rows.json"))
    rows.write_text("{not json")
    assert load(folder, service.store.embedding_model) is None
    assert_same_corpus(make_service(service.settings.data_dir, service.embedder)._lexical(), want)
    manifest = folder / MANIFEST
    manifest.write_text(manifest.read_text().replace(lexical_store.code_fingerprint(), "x" * 32))
    assert load(folder, service.store.embedding_model) is None  # other code: never trusted


def test_an_article_being_rewritten_leaves_the_snapshot(service: NewsQA, articles: Path) -> None:
    service.ingest([articles])
    indexed = service.lexical.refresh()
    rewriting = {"content_hash": PENDING, WRITTEN: time.time()}  # as put_articles marks it
    service.store.articles.update(ids=[KREMLIN_DOC], metadatas=[rewriting])
    stored, pending = store_versions(service.store)
    assert pending == {KREMLIN_DOC} and KREMLIN_DOC not in stored
    synced = lexical_store.sync(service.store, indexed)
    assert synced.corpus.doc_ids() == {OTHER_DOC}
    assert lexical_store.sync(service.store, Indexed.empty()).corpus.doc_ids() == {OTHER_DOC}


def run_in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_questions_are_answered_while_an_ingest_is_held_mid_way(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path
) -> None:
    """An ingest stopped inside its embedding step (a gate in the test) does not hold up
    questions: they are answered from the previous snapshot, and the new article is
    answerable as soon as the ingest returns."""
    data = tmp_path / "data"
    make_service(data, embedder).ingest([seed_file(articles, OTHER_DOC)])
    entered, gate = threading.Event(), threading.Event()

    class Gated:
        """The real model; the ingest thread's calls wait at the gate."""

        def __getattr__(self, name: str) -> Any:
            return getattr(embedder, name)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if threading.current_thread().name == "ingest":
                entered.set()
                assert gate.wait(120)
            return embedder.embed_documents(texts)

    base = make_service(data, embedder)
    service = NewsQA(base.settings, base.store, Gated())  # type: ignore[arg-type]
    service.warm_up()
    ingest = threading.Thread(
        target=lambda: service.ingest([seed_file(articles, KREMLIN_DOC)]), name="ingest"
    )
    ingest.start()
    assert entered.wait(120)
    try:
        thread, answers = run_in_thread(lambda: service.ask("Chi è il portavoce del Cremlino?"))
        thread.join(120)
        assert answers, "a question waited for the ingest"
        assert ingest.is_alive()  # still held at the gate
        assert all(c.doc_id == OTHER_DOC for c in answers[0].citations)
        assert service.health()["documents"] == 1
    finally:
        gate.set()
        ingest.join(120)
    answer = service.ask("Chi è il portavoce del Cremlino?")
    assert "Peskov" in answer.answer and {c.doc_id for c in answer.citations} == {KREMLIN_DOC}


def test_live_positions_survive_a_save_and_load(service: NewsQA, articles: Path) -> None:
    service.ingest([articles])
    service.delete(OTHER_DOC)
    loaded = load(service.settings.data_dir / "lexical", service.store.embedding_model)
    assert loaded is not None
    assert np.array_equal(loaded.corpus.index.live, service._lexical().index.live)
    assert loaded.versions == store_versions(service.store)[0]
