"""The lexical corpus saved next to a real Chroma store: used when fresh, never when stale."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.retrieval.hybrid import LexicalCorpus, Query, hybrid_search
from rag.retrieval.lexical_store import fingerprint, load_or_build, stored_ids
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEEDS, make_service
from vectorstore.embeddings import LocalEmbedder

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Cosa ha detto il Cremlino?",
    "Chi ha vinto le elezioni?",
    "Quando è stato firmato l'accordo?",
    "Putin Ucraina negoziati",
    "What did the Kremlin say?",
]


def saved(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "lexical").iterdir())


def assert_same_corpus(got: LexicalCorpus, want: LexicalCorpus) -> None:
    """Same chunks, statistics and rankings as a corpus built afresh."""
    assert got.chunks == want.chunks
    assert got.sentence_chunks == want.sentence_chunks
    assert np.array_equal(got.dates, want.dates)
    for a, b in (
        (got.index, want.index),
        (got.sentences, want.sentences),
        (got.prefixes, want.prefixes),
    ):
        assert (a.size, a.k1, a.b, a.avg_length) == (b.size, b.k1, b.b, b.avg_length)
        assert a.doc_freq == b.doc_freq
    for question in QUESTIONS:
        ranked = hybrid_search([Query(question)], got, None, 10, 20, 0.0)
        assert ranked == hybrid_search([Query(question)], want, None, 10, 20, 0.0)
    for dates in ((None, None), (dt.date(2020, 1, 1), None)):
        mask = got.mask(*dates)
        text = "il Cremlino, Putin e l'Ucraina"
        assert got.search(text, 10, mask) == want.search(text, 10, mask)


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def fresh(service: NewsQA) -> LexicalCorpus:
    return LexicalCorpus.build(service.store.all_chunks())


def test_saved_corpus_is_loaded_by_the_next_instance(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    first = make_service(data, embedder)
    first.ingest([articles])
    first._lexical()
    assert saved(data) == [fingerprint(stored_ids(first.store))]

    def no_build(chunks: object) -> None:
        raise AssertionError("a fresh saved corpus must be loaded, not rebuilt")

    monkeypatch.setattr(LexicalCorpus, "build", no_build)
    second = make_service(data, embedder)
    second.warm_up()
    loaded = second._lexical()
    monkeypatch.undo()
    assert_same_corpus(loaded, fresh(second))
    assert second.ask("Cosa ha detto il Cremlino?").citations


def test_changes_by_any_instance_are_never_served_from_a_stale_corpus(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path
) -> None:
    data = tmp_path / "data"
    reader = make_service(data, embedder)
    reader.ingest([articles])
    reader._lexical()
    before = saved(data)
    writer = make_service(data, embedder)  # another instance (process) on the same data dir

    changed = next(articles.glob(f"{KREMLIN_DOC}*"))
    added = "\nIl Cremlino ha poi annunciato un vertice a Tbilisi."
    changed.write_text(changed.read_text() + added)
    assert writer.ingest([articles]).updated == [KREMLIN_DOC]
    restarted = make_service(data, embedder)
    corpus = restarted._lexical()
    assert_same_corpus(corpus, fresh(restarted))
    assert any("Tbilisi" in c.text for c in corpus.chunks)
    assert saved(data) != before and saved(data) == [fingerprint(stored_ids(restarted.store))]
    assert "Tbilisi" in restarted.ask("Dove si terrà il vertice annunciato dal Cremlino?").answer

    assert writer.delete(KREMLIN_DOC)
    assert all(c.doc_id != KREMLIN_DOC for c in reader._lexical().chunks)  # counts changed
    restarted = make_service(data, embedder)
    corpus = restarted._lexical()
    assert_same_corpus(corpus, fresh(restarted))
    assert {c.doc_id for c in corpus.chunks} == {c.doc_id for c in restarted.store.all_chunks()}
    assert saved(data) == [fingerprint(stored_ids(restarted.store))]  # older ones removed


def test_the_service_rebuilds_after_its_own_changes(service: NewsQA, articles: Path) -> None:
    service.ingest([next(articles.glob("000_*"))])
    one = service._lexical()
    service.ingest([articles])
    two = service._lexical()
    assert {c.doc_id for c in two.chunks} - {c.doc_id for c in one.chunks} == {KREMLIN_DOC}
    assert_same_corpus(two, fresh(service))
    service.delete(KREMLIN_DOC)
    assert_same_corpus(service._lexical(), fresh(service))


def test_a_damaged_saved_corpus_is_rebuilt(service: NewsQA, articles: Path) -> None:
    folder = service.settings.data_dir / "lexical"
    assert load_or_build(service.store, folder).chunks == []
    service.ingest([articles])
    want = load_or_build(service.store, folder)
    stats = folder / fingerprint(stored_ids(service.store)) / "chunks" / "stats.json"
    stats.write_text("{not json")
    assert_same_corpus(load_or_build(service.store, folder), want)
    assert_same_corpus(load_or_build(service.store, folder), fresh(service))


def test_same_ids_with_other_chunks_after_delete_and_reingest(
    tmp_path: Path, embedder: LocalEmbedder, articles: Path
) -> None:
    """Re-ingesting a deleted article with other chunk settings brings back the same chunk
    ids with other chunks: the delete forgot the saved corpus, so it is not reused."""
    data = tmp_path / "data"
    small = make_service(data, embedder, chunk_tokens=64)
    small.ingest([articles])
    small._lexical()
    assert small.delete(KREMLIN_DOC) and not saved(data)
    large = make_service(data, embedder, chunk_tokens=128)
    large.ingest([next(articles.glob(f"{KREMLIN_DOC}*"))])
    restarted = make_service(data, embedder)
    assert_same_corpus(restarted._lexical(), fresh(restarted))


def test_search_ranks_as_bm25s_retrieve() -> None:
    """The top-k over scoring texts gives bm25s's own ranking (ties aside) on SQuAD-it."""
    import gzip
    import json

    from eval.datasets import SQUAD_IT
    from rag.retrieval.lexical import LexicalIndex, analyze

    paragraphs = [p for a in json.loads(gzip.decompress(SQUAD_IT.read_bytes()))["data"][:8]
                  for p in a["paragraphs"]]  # fmt: skip
    texts = [p["context"] for p in paragraphs]
    questions = [q["question"] for p in paragraphs for q in p["qas"]]
    index = LexicalIndex(texts)
    mask = (np.arange(len(texts)) % 3 != 0).astype(np.float32)
    for question in questions[:: len(questions) // 60][:60]:
        terms = [t for t in analyze(question) if t in index.doc_freq]
        for k, m in ((10, None), (len(texts) + 5, None), (10, mask)):
            got = index.search(terms, k, m)
            if not terms:
                assert got == []
                continue
            docs, scores = index._bm25.retrieve(
                [terms], k=min(k, len(texts)), show_progress=False, n_threads=0, weight_mask=m
            )
            want = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
            assert [s for _, s in got] == [s for _, s in want]
            # The same texts, but among equal scores at the cut, which made it may differ.
            last = got[-1][1] if got else 0.0
            assert {p for p in got if p[1] > last} == {p for p in want if p[1] > last}
            assert got == sorted(got, key=lambda p: (-p[1], p[0]))  # ties by position
            assert all(m is None or m[d] for d, _ in got)
