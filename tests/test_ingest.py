"""Ingestion into a real Chroma store with the real model: idempotency, updates, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from rag.errors import StoreError
from rag.service import NewsQA
from tests.conftest import SEED_FILES, SEEDS, make_service
from vectorstore.clients import chroma_client
from vectorstore.documents import Article
from vectorstore.embeddings import LocalEmbedder
from vectorstore.loaders import read_article
from vectorstore.sentences import sentence_spans
from vectorstore.store import ArticleWrite, ChromaStore

pytestmark = pytest.mark.integration


def test_chunks_fit_the_model_window_and_match_the_body(seeded: NewsQA) -> None:
    """Nothing is silently truncated: every chunk, with <s>/</s> and the `passage: ` prompt,
    fits in multilingual-e5-small's 512 pieces."""
    window = seeded.embedder.model.max_seq_length
    assert window == 512
    bodies = {d: a.article.body for d, a in seeded.store.get_articles().items()}
    chunks = seeded.store.all_chunks()
    assert len(chunks) >= 4
    for chunk in chunks:
        assert bodies[chunk.doc_id][chunk.start : chunk.end] == chunk.text
        prompted = seeded.embedder.passage_prompt + chunk.text
        assert len(seeded.embedder.model.tokenizer(prompted)["input_ids"]) <= window
    # Together the chunks cover every non-blank character of every article.
    for doc_id, body in bodies.items():
        covered = [False] * len(body)
        for c in (c for c in chunks if c.doc_id == doc_id):
            covered[c.start : c.end] = [True] * (c.end - c.start)
        assert all(covered[i] or body[i].isspace() for i in range(len(body)))


def test_reingest_is_idempotent_and_changes_replace_chunks(service: NewsQA, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    first = service.ingest([folder])
    assert (len(first.added), len(first.updated), len(first.unchanged)) == (2, 0, 0)
    counts = service.store.counts()
    again = service.ingest([folder])
    assert (len(again.added), len(again.updated), len(again.unchanged)) == (0, 0, 2)
    assert service.store.counts() == counts

    changed = folder / SEED_FILES[1].name
    changed.write_text(changed.read_text() + "\nIl Cremlino ha poi annunciato un nuovo vertice.")
    update = service.ingest([folder])
    assert update.updated == ["001_526304c45c6c8f07"] and len(update.unchanged) == 1
    chunks = [c for c in service.store.all_chunks() if c.doc_id == "001_526304c45c6c8f07"]
    body = service.store.get_articles(["001_526304c45c6c8f07"])["001_526304c45c6c8f07"]
    assert body.article.body.endswith("nuovo vertice.")
    assert body.chunks == len(chunks) and [c.index for c in chunks] == list(range(len(chunks)))
    answer = service.ask("Cosa ha annunciato il Cremlino sul nuovo vertice?")
    assert "nuovo vertice" in answer.answer


def test_bad_files_are_skipped_and_nothing_stored_is_lost(service: NewsQA, tmp_path: Path) -> None:
    service.ingest(SEED_FILES)
    before = service.store.counts()
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "latin.txt").write_bytes("città".encode("latin-1"))
    (tmp_path / "empty.md").write_bytes(b"")
    report = service.ingest([tmp_path, tmp_path / "missing.txt"])
    assert report.added == [] and len(report.skipped) == 4
    assert service.store.counts() == before
    assert "Peskov" in service.ask("Chi è il portavoce del Cremlino?").answer


def test_same_file_name_twice_is_skipped(service: NewsQA, tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "notizia.txt").write_text(f"Notizia della cartella {sub}.")
    report = service.ingest([tmp_path])
    assert len(report.added) == 1 and "rename" in str(report.skipped[0])


def test_delete_removes_every_chunk(service: NewsQA) -> None:
    service.ingest(SEED_FILES)
    assert "Peskov" in service.ask("Chi è il portavoce del Cremlino?").answer
    assert service.delete("001_526304c45c6c8f07")
    assert not service.delete("001_526304c45c6c8f07")
    assert "Peskov" not in service.ask("Chi è il portavoce del Cremlino?").answer
    assert {c.doc_id for c in service.store.all_chunks()} == {"000_8a743153ebfc5c65"}
    assert service.store.counts()[0] == 1


def test_store_built_with_another_model_is_refused(
    service: NewsQA, embedder: LocalEmbedder, tmp_path: Path
) -> None:
    service.ingest(SEED_FILES[:1])
    data_dir = service.settings.data_dir
    other = ChromaStore(lambda: chroma_client(data_dir), "some-other-model")
    with pytest.raises(StoreError, match="run `newsrag reindex`"):
        other.counts()


def write_mixed_folder(folder: Path) -> None:
    """One good file of each format and one file of each kind of bad input."""
    from tests.pdf_builder import make_pdf
    from tests.test_formats import HTML

    (folder / "web").mkdir(parents=True)
    (folder / "web" / "ponte.html").write_text(HTML, encoding="utf-8")
    (folder / "carta.pdf").write_bytes(
        make_pdf(["La giunta regionale ha approvato il piano per le scuole.", "Costa 3 milioni."])
    )
    (folder / "feed.jsonl").write_text(
        '{"id": "feed-1", "title": "Porto", "text": "Il porto di Livorno riapre lunedì."}\n'
        '{"id": "feed-2", "text": "Il festival del cinema apre con un film francese."\n'
        '{"id": "feed-3", "text": "La neve chiude il passo dello Stelvio.", "date": "3/11/2025"}\n',
        encoding="utf-8",
    )
    (folder / "nota.md").write_text("---\ndate: 2025-10-01\n---\n# Nota\n\nUna nota breve.\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x00\x00binary")
    (folder / "latin1.txt").write_bytes("Perché è così.".encode("latin-1"))
    (folder / "broken.html").write_bytes(b"<html><head><script>x</script><body><div></b></i>")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog garbage")
    (folder / "locked.pdf").write_bytes(make_pdf(["Segreto."], password="segreta"))
    (folder / "huge.txt").write_text("parola " * 20_000)


BAD_SOURCES = {
    "empty.txt": "empty",
    "binary.txt": "binary",
    "latin1.txt": "not UTF-8",
    "broken.html": "no article text",
    "corrupt.pdf": "corrupt",
    "locked.pdf": "encrypted",
    "huge.txt": "over the",
    "feed.jsonl:2": "not valid JSON",
}


def test_every_format_and_every_bad_input(service: NewsQA, tmp_path: Path) -> None:
    service.settings = service.settings.model_copy(update={"max_file_bytes": 100_000})
    service.ingest(SEED_FILES)
    seeds = service.store.counts()
    folder = tmp_path / "mixed"
    write_mixed_folder(folder)
    report = service.ingest([folder])
    assert sorted(report.added) == ["carta", "feed-1", "feed-3", "nota", "ponte"]
    assert {e.source: e.problem for e in report.skipped}.keys() == BAD_SOURCES.keys()
    for problem in report.skipped:
        assert BAD_SOURCES[problem.source] in problem.problem, problem
    assert service.store.counts()[0] == seeds[0] + 5
    assert "Peskov" in service.ask("Chi è il portavoce del Cremlino?").answer
    assert "Marta Rinaldi" in service.ask("Chi ha inaugurato il ponte sul Polcevera?").answer
    ponte = service.article("ponte")
    assert ponte is not None and ponte.url == "https://example.it/cronaca/ponte"
    feed = service.article("feed-3")
    assert feed is not None and feed.date == "2025-11-03"
    # A second run changes nothing and reports the same problems.
    again = service.ingest([folder])
    assert len(again.unchanged) == 5 and len(again.skipped) == len(BAD_SOURCES)


def test_a_failed_store_write_stops_the_ingest_and_a_rerun_completes(
    tmp_path: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch N is stored while batch N+1 is embedded: a write that fails stops the ingest
    with the error, nothing is written after it, the batches before it stay whole, and a
    re-run stores the rest."""
    service = make_service(tmp_path / "data", embedder, ingest_batch=1)  # a batch per article
    body = read_article(SEED_FILES[1], 10**6).body
    sentences = [body[s:e] for s, e in sentence_spans(body)]
    articles = [  # disjoint sentences: six articles, none a copy of another
        Article(f"part-{i}", f"Parte {i}", "2025-09-05", "test", " ".join(sentences[i::6]))
        for i in range(6)
    ]
    writes: list[list[str]] = []
    put = service.store.put_articles

    def failing_third_write(items: list[ArticleWrite], sentences: Any = None) -> None:
        writes.append([article.doc_id for article, *_ in items])
        if len(writes) == 3:
            raise StoreError("disk full")
        put(items, sentences)

    monkeypatch.setattr(service.store, "put_articles", failing_third_write)
    with pytest.raises(StoreError, match="disk full"):
        service.ingest_articles(articles)
    assert writes == [["part-0"], ["part-1"], ["part-2"]]
    monkeypatch.undo()

    assert set(service.store.get_articles()) == {"part-0", "part-1"}
    rerun = service.ingest_articles(articles)
    assert rerun.unchanged == ["part-0", "part-1"]
    assert rerun.added == ["part-2", "part-3", "part-4", "part-5"] and not rerun.updated
    chunks = service.store.all_chunks()
    for doc_id, record in service.store.get_articles().items():
        own = [c for c in chunks if c.doc_id == doc_id]
        assert record.chunks == len(own) and all(
            record.article.body[c.start : c.end] == c.text for c in own
        )
    assert len({c.chunk_id for c in chunks}) == len(chunks)
