"""One contract for the store, ingestion and answers, run on the embedded Chroma store and on a
real `chroma run` server (the `mode_service` fixture is parametrised over both modes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.errors import StoreError
from rag.http.app import create_app
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEED_FILES, SEEDS
from vectorstore.clients import client_factory, parse_chroma_url
from vectorstore.documents import Article, Chunk
from vectorstore.records import PENDING, StoredArticle, chunks_in_articles
from vectorstore.store import ChromaStore

pytestmark = pytest.mark.integration
PEACE_DOC = "000_8a743153ebfc5c65"


def test_store_round_trip(mode_service: NewsQA, monkeypatch: pytest.MonkeyPatch) -> None:
    store = mode_service.store
    article = Article("a1", "Titolo", "2025-01-02", "a1.txt", "Prima frase. Seconda frase.",
                      author="Ada", url="https://example.it/a1")  # fmt: skip
    meta = ("Titolo", "2025-01-02", "a1.txt")
    chunks = [
        Chunk("a1", 0, 0, 12, "Prima frase.", *meta),
        Chunk("a1", 1, 13, 27, "Seconda frase.", *meta),
    ]
    vectors = mode_service.embedder.embed_documents([c.text for c in chunks])
    store.put_articles([(article, chunks, vectors, {"fingerprint": "f"})])
    assert store.counts() == (1, 2)
    assert store.get_articles(["a1"])["a1"].article == article
    # Chunks are stored as places in the body and read back as its slices, whole.
    assert store.chunks.get(include=["documents"])["documents"] == [None, None]
    assert store.all_chunks() == chunks
    assert store.records()["a1"]["fingerprint"] == "f"
    assert [d.doc_id for d in store.documents()] == ["a1"] and store.documents()[0].chunks == 2
    assert store.doc_ids_from_source("a1.txt") == ["a1"]
    assert store.bodies(["nessuno", "a1"]) == {"a1": article.body} and store.bodies([]) == {}
    monkeypatch.setattr("vectorstore.store.WRITE_BATCH", 1)  # one read per id
    assert store.bodies(["nessuno", "a1"]) == {"a1": article.body}
    monkeypatch.undo()
    # The final hash is a metadata-only update: body, vector and other metadata stay.
    assert store.records()["a1"]["content_hash"] == article.content_hash
    best, score = store.dense_search(vectors[1], 1)[0]
    assert best.text == "Seconda frase." and score > 0.99
    # A changed article replaces its chunks (the stale second chunk goes).
    changed = Article("a1", "Titolo", None, "a1.txt", "Solo una frase.")
    one = [Chunk("a1", 0, 0, 15, "Solo una frase.", "Titolo", None, "a1.txt")]
    store.put_articles([(changed, one, mode_service.embedder.embed_documents([one[0].text]), {})])
    assert store.counts() == (1, 1) and [c.text for c in store.all_chunks()] == ["Solo una frase."]
    assert store.delete_article("a1") and not store.delete_article("a1")
    assert store.counts() == (0, 0)


def test_chunks_of_an_article_being_replaced_are_never_cut_from_its_new_body(
    mode_service: NewsQA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that stops after the new body is stored (crash, full disk) leaves the old
    chunks behind: they are not read back as slices of a body they were not made from."""
    store = mode_service.store
    old = Article("a1", "Titolo", None, "a1.txt", "Prima frase. Seconda frase.")
    chunks = [Chunk("a1", 0, 0, 12, "Prima frase."), Chunk("a1", 1, 13, 27, "Seconda frase.")]
    store.put_article(old, chunks, mode_service.embedder.embed_documents([c.text for c in chunks]))
    new = Article("a1", "Titolo", None, "a1.txt", "Ultima notizia: il ponte riapre.")
    one = [Chunk("a1", 0, 0, 32, new.body)]
    vectors = mode_service.embedder.embed_documents([new.body])

    def fail(**_: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store.chunks, "upsert", fail)
    with pytest.raises(StoreError):
        store.put_article(new, one, vectors)
    monkeypatch.undo()
    assert store.get_articles(["a1"])["a1"].article.body == new.body  # the record went first
    assert store.counts() == (1, 2) and store.all_chunks() == []
    assert store.dense_search(vectors[0], 2) == []
    store.put_article(new, one, vectors)  # the re-run repairs it
    assert [(c.text, c.title) for c in store.all_chunks()] == [(new.body, "Titolo")]


def test_chunk_records_are_read_back_as_slices_of_their_articles() -> None:
    """Pure reading logic: the text, title, date and source are the article's; a chunk
    whose article is missing, changed or too short for its offsets is left out."""
    body = "Prima frase. Seconda frase."
    article = Article("a1", "Titolo", "2025-01-02", "a1.txt", body)
    stored = {"a1": StoredArticle(article, article.content_hash, 2)}
    place = {
        "doc_id": "a1",
        "index": 1,
        "start": 13,
        "end": 27,
        "content_hash": article.content_hash,
    }
    older_format = {**place, "title": "vecchio", "source": "x", "date": "1999-01-01"}
    found = chunks_in_articles(
        [place, older_format, {**place, "content_hash": "altro"}, {**place, "end": 99},
         {**place, "doc_id": "a2"}],
        stored,
    )  # fmt: skip
    expected = Chunk("a1", 1, 13, 27, "Seconda frase.", "Titolo", "2025-01-02", "a1.txt")
    assert found == [expected, expected, None, None, None]
    pending = {"a1": StoredArticle(article, PENDING, 2)}  # being written: its real hash counts
    assert chunks_in_articles([place], pending) == [expected]
    assert chunks_in_articles([{**place, "content_hash": "vecchio"}], pending) == [None]


def test_another_model_is_refused(mode_service: NewsQA) -> None:
    mode_service.ingest(SEED_FILES[:1])
    s = mode_service.settings
    other = ChromaStore(client_factory(s), "some-other-model", prefix=s.collection_prefix)
    with pytest.raises(StoreError, match="run `newsrag reindex`"):
        other.counts()


def test_ingest_is_idempotent_updates_replace_and_remove_deletes(
    mode_service: NewsQA, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    first = mode_service.ingest([folder])
    assert sorted(first.added) == [PEACE_DOC, KREMLIN_DOC]
    counts = mode_service.store.counts()
    again = mode_service.ingest([folder])
    assert len(again.unchanged) == 2 and mode_service.store.counts() == counts

    kremlin = folder / f"{KREMLIN_DOC}.txt"
    kremlin.write_text(kremlin.read_text() + "\nIl Cremlino ha poi annunciato un nuovo vertice.")
    assert mode_service.ingest([folder]).updated == [KREMLIN_DOC]
    assert "nuovo vertice" in mode_service.ask("Cosa ha annunciato il Cremlino?").answer
    stored = mode_service.store.get_articles([KREMLIN_DOC])[KREMLIN_DOC]
    own = [c for c in mode_service.store.all_chunks() if c.doc_id == KREMLIN_DOC]
    assert stored.chunks == len(own) and [c.index for c in own] == list(range(len(own)))

    (folder / "copia.txt").write_text(kremlin.read_text().upper())
    assert mode_service.ingest([folder]).duplicates[0].of == KREMLIN_DOC

    assert mode_service.remove(str(kremlin))
    assert {c.doc_id for c in mode_service.store.all_chunks()} == {PEACE_DOC}
    assert "Peskov" not in mode_service.ask("Chi è il portavoce del Cremlino?").answer


def test_bad_input_loses_nothing(mode_service: NewsQA, tmp_path: Path) -> None:
    mode_service.ingest(SEED_FILES)
    before = mode_service.store.counts()
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01")
    (tmp_path / "empty.md").write_bytes(b"")
    report = mode_service.ingest([tmp_path])
    assert report.added == [] and len(report.skipped) == 2
    assert mode_service.store.counts() == before


def test_ask_and_documents_api(mode_service: NewsQA) -> None:
    mode_service.ingest(SEED_FILES)
    with TestClient(create_app(mode_service, with_ui=False)) as client:
        assert client.get("/healthz").json()["documents"] == 2
        body = client.post("/api/v1/ask", json={"question": "Chi è il portavoce del Cremlino?"})
        answer = body.json()
        assert "Peskov" in answer["answer"]
        for citation in answer["citations"]:
            article = client.get(f"/api/v1/documents/{citation['doc_id']}").json()
            assert article["body"][citation["start"] : citation["end"]] == citation["quote"]
        files = {"file": ("nota.md", b"# Nota\n\nIl porto di Livorno riapre lunedi.", "text/plain")}
        assert client.post("/api/v1/documents", files=files).status_code == 201
        assert client.get("/api/v1/documents").json()["count"] == 3
        assert client.delete("/api/v1/documents/nota").status_code == 200
        assert client.get("/api/v1/documents").json()["count"] == 2


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("https://chroma.example.org", ("chroma.example.org", 443, True)),
        ("http://chroma/", ("chroma", 8000, False)),
    ],
)
def test_chroma_url_parsing(url: str, parsed: tuple[str, int, bool]) -> None:
    assert parse_chroma_url(url) == parsed


def test_cli_uses_the_server_when_the_url_is_set(chroma_server: str, tmp_path: Path) -> None:
    """NEWSRAG_CHROMA_URL end to end: the CLI stores on the server, nothing under the data dir."""
    from tests.test_cli import run

    env = {"NEWSRAG_CHROMA_URL": chroma_server, "NEWSRAG_COLLECTION_PREFIX": "cli_server"}
    done = run("ingest", str(SEEDS), data_dir=tmp_path / "data", **env)
    assert done.returncode == 0 and "2 added" in done.stdout, done.stderr
    assert not (tmp_path / "data" / "chroma").exists()
    asked = run("ask", "Chi è il portavoce del Cremlino?", data_dir=tmp_path / "other", **env)
    assert "Peskov" in asked.stdout
