"""Shared fixtures: the real MiniLM model (loaded once), real Chroma stores in temp dirs,
a seeds store built once per session, and a live server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from rag.service import NewsQA, chroma_client
from rag.settings import Settings, load_settings
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.store import ChromaStore

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
KREMLIN_DOC = "001_526304c45c6c8f07"


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(bundled_model_path())


def make_service(data_dir: Path, embedder: LocalEmbedder, **overrides: object) -> NewsQA:
    """A service over a fresh embedded Chroma store in `data_dir`, sharing the loaded model."""
    settings: Settings = load_settings(data_dir=data_dir, **overrides)
    store = ChromaStore(lambda: chroma_client(data_dir), embedder.name)
    return NewsQA(settings, store, embedder)


@pytest.fixture
def service(tmp_path: Path, embedder: LocalEmbedder) -> NewsQA:
    """An empty service of its own, for tests that change the store."""
    return make_service(tmp_path / "data", embedder)


@pytest.fixture(scope="session")
def seeds_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seeds-store")


@pytest.fixture(scope="session")
def seeded(seeds_data_dir: Path, embedder: LocalEmbedder) -> NewsQA:
    """The two seed articles, ingested once for the whole session (read-only for tests)."""
    svc = make_service(seeds_data_dir, embedder)
    report = svc.ingest([SEEDS])
    assert len(report.added) == 2, report.summary()
    return svc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,  # long-lived streams (Gradio heartbeats) end at shutdown
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        raise RuntimeError("the live server did not start within 60 s")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(seeded: NewsQA) -> Iterator[str]:
    """The real app (API + Gradio UI) served by uvicorn on loopback; yields its base URL."""
    from rag.api import create_app

    with serve_app(create_app(seeded)) as url:
        yield url
