"""The documents API (list, read, upload, delete) through TestClient over a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.http.app import create_app
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEED_FILES

pytestmark = pytest.mark.integration

ARTICLE = (
    "---\ntitle: Nuovo ponte a Genova\ndate: 2025-10-02\n---\n"
    "Il sindaco Marta Rinaldi ha inaugurato giovedì il nuovo ponte sul Polcevera. "
    "L'opera è costata 200 milioni di euro.\n"
)


@pytest.fixture
def client(service: NewsQA) -> Iterator[TestClient]:
    service.ingest(SEED_FILES)
    with TestClient(create_app(service, with_ui=False)) as c:
        yield c


def upload(client: TestClient, name: str, data: bytes) -> tuple[int, dict[str, object]]:
    response = client.post("/api/v1/documents", files={"file": (name, data, "text/plain")})
    return response.status_code, response.json()


def test_list_read_upload_delete(client: TestClient, service: NewsQA) -> None:
    listing = client.get("/api/v1/documents").json()
    assert listing["count"] == 2
    kremlin = next(d for d in listing["documents"] if d["doc_id"] == KREMLIN_DOC)
    assert kremlin["date"] == "2025-09-05" and kremlin["chunks"] >= 1
    assert kremlin["source"] == f"{KREMLIN_DOC}.txt"

    status, report = upload(client, "ponte.md", ARTICLE.encode())
    assert status == 201 and report["added"] == ["ponte"], report
    article = client.get("/api/v1/documents/ponte").json()
    assert article["title"] == "Nuovo ponte a Genova" and article["date"] == "2025-10-02"
    assert article["body"].startswith("Il sindaco Marta Rinaldi")
    # The lexical index follows the store: the new article answers at once.
    answer = client.post("/api/v1/ask", json={"question": "Chi ha inaugurato il ponte?"}).json()
    assert "Marta Rinaldi" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == "ponte"

    status, report = upload(client, "ponte.md", ARTICLE.encode())
    assert status == 200 and report["unchanged"] == ["ponte"]
    status, report = upload(client, "ponte.md", ARTICLE.replace("200", "250").encode())
    assert status == 201 and report["updated"] == ["ponte"]

    chunks_before = service.store.counts()[1]
    ponte_chunks = next(d["chunks"] for d in client.get("/api/v1/documents").json()["documents"]
                        if d["doc_id"] == "ponte")  # fmt: skip
    response = client.delete("/api/v1/documents/ponte")
    assert response.status_code == 200 and response.json() == {"removed": "ponte"}
    assert service.store.counts() == (2, chunks_before - ponte_chunks)
    assert all(c.doc_id != "ponte" for c in service.store.all_chunks())
    answer = client.post("/api/v1/ask", json={"question": "Chi ha inaugurato il ponte?"}).json()
    assert "Marta Rinaldi" not in answer["answer"]
    assert client.delete("/api/v1/documents/ponte").status_code == 404
    missing = client.get("/api/v1/documents/ponte")
    assert missing.status_code == 404 and "ponte" in missing.json()["message"]


@pytest.mark.parametrize(
    ("name", "data", "status", "problem"),
    [
        ("big.txt", b"parola " * 2_000, 413, "over the"),
        ("program.exe", b"MZ\x90\x00", 415, "unsupported file type"),
        ("noext", b"testo", 415, "unsupported file type"),
        ("empty.txt", b"", 422, "empty"),
        ("binary.txt", b"\x00\x01\x02binary", 422, "binary"),
        ("latin.txt", "Perché è così.".encode("latin-1"), 422, "not UTF-8"),
        ("../", b"Testo.", 422, "plain file name"),
        (".hidden.txt", b"Testo.", 422, "plain file name"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_lost(
    client: TestClient, service: NewsQA, name: str, data: bytes, status: int, problem: str
) -> None:
    service.settings = service.settings.model_copy(update={"max_file_bytes": 10_000})
    before = service.store.counts()
    got, body = upload(client, name, data)
    assert got == status, body
    assert problem in str(body["message"])
    assert service.store.counts() == before


def test_upload_name_is_never_a_path(client: TestClient, tmp_path: Path) -> None:
    """A traversal name only labels the article: nothing is written outside the store."""
    status, report = upload(client, "../../evil/Notizia Urgente.md", ARTICLE.encode())
    assert status == 201 and report["added"] == ["notizia-urgente"]
    status, report = upload(client, "..\\..\\windows\\altra.txt", b"Un altro articolo breve.")
    assert status == 201 and report["added"] == ["altra"]
    assert client.get("/api/v1/documents/notizia-urgente").json()["source"] == "Notizia Urgente.md"
    assert not (tmp_path.parent / "evil").exists() and not (tmp_path / "evil").exists()
    assert client.get("/api/v1/documents/..%2Fetc").status_code in (404, 422)


def test_remove_by_id_or_by_file(service: NewsQA) -> None:
    service.ingest(SEED_FILES)
    assert service.remove(str(SEED_FILES[1]))  # a path: the articles read from that file
    assert service.article(KREMLIN_DOC) is None
    assert [d.doc_id for d in service.documents()] == ["000_8a743153ebfc5c65"]
    assert service.remove("000_8a743153ebfc5c65") and not service.remove("000_8a743153ebfc5c65")
    assert service.store.counts() == (0, 0)
