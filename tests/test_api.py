"""The HTTP API through FastAPI's TestClient and a live server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.http.app import create_app
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(seeded: NewsQA) -> Iterator[TestClient]:
    with TestClient(create_app(seeded, with_ui=False)) as c:
        yield c


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["documents"] == 2 and body["chunks"] >= 4


def test_ask_contract(client: TestClient, seeded: NewsQA) -> None:
    response = client.post("/api/v1/ask", json={"question": "Chi è il portavoce del Cremlino?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"answer", "abstained", "citations", "sources"}
    assert "Peskov" in body["answer"] and body["abstained"] is False
    citation = body["citations"][0]
    assert set(citation) >= {"n", "doc_id", "title", "date", "source", "quote", "start", "end"}
    article = seeded.store.get_articles([KREMLIN_DOC])[KREMLIN_DOC].article
    assert article.body[citation["start"] : citation["end"]] == citation["quote"]
    assert 1 <= len(body["sources"]) <= 4  # at most top_k: only chunks that match
    assert set(body["sources"][0]) >= {"doc_id", "title", "date", "text", "start", "end", "score"}


def test_history_and_top_k(client: TestClient) -> None:
    response = client.post(
        "/api/v1/ask",
        json={
            "question": "E dove sono stazionate le sue truppe?",
            "history": [
                {"role": "user", "content": "Chi ha ringraziato Putin per i soldati nordcoreani?"},
                {"role": "assistant", "content": "Kim Jong-un."},
            ],
            "top_k": 2,
        },
    )
    assert response.status_code == 200
    assert len(response.json()["sources"]) == 2
    assert "territorio russo" in response.json()["answer"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": "many"}, "top_k"),
        ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, "history"),
        ({"question": "ok?", "colour": "red"}, "colour"),
    ],
)
def test_invalid_input_is_422_with_a_readable_message(
    client: TestClient, payload: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/ask", json=payload)
    assert response.status_code == 422
    assert field in response.json()["message"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "JSON" in response.json()["message"]


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/ask" in spec["paths"] and "/healthz" in spec["paths"]


def test_live_server_serves_api_and_ui(live_server: str) -> None:
    response = httpx.post(
        f"{live_server}/api/v1/ask", json={"question": "Chi è il portavoce del Cremlino?"}
    )
    assert response.status_code == 200 and "Peskov" in response.json()["answer"]
    page = httpx.get(f"{live_server}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(f"{live_server}/healthz").json()["documents"] == 2
