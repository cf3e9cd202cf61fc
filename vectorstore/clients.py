"""How newsrag reaches Chroma: an embedded store under the data folder, or a server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from rag.errors import StoreError


class ChromaLocation(Protocol):
    """Where the store is (rag.settings.Settings has these; storage does not import settings)."""

    @property
    def chroma_url(self) -> str | None: ...

    @property
    def data_dir(self) -> Path: ...


def chroma_client(data_dir: Path) -> Any:
    """An embedded, persistent Chroma client with telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )


def chroma_http_client(url: str) -> Any:
    """A client of a Chroma server (`chroma run`, or a distributed deployment's frontend)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port, ssl = parse_chroma_url(url)
    try:
        return chromadb.HttpClient(
            host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False)
        )
    except Exception as exc:  # connection refused, DNS, TLS: all mean "not reachable"
        raise StoreError(
            f"cannot reach the Chroma server at {url} ({exc.__class__.__name__}): start it "
            "with `chroma run --path DIR --port PORT`, or unset NEWSRAG_CHROMA_URL to use "
            "the embedded store"
        ) from None


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of `http[s]://host[:port]`; the port defaults to 8000 (443 for TLS)."""
    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    return parts.hostname or "localhost", parts.port or (443 if ssl else 8000), ssl


def client_factory(settings: ChromaLocation) -> Callable[[], Any]:
    """How the store reaches Chroma: a server when NEWSRAG_CHROMA_URL is set, else embedded."""
    url, data_dir = settings.chroma_url, settings.data_dir
    if url:
        return lambda: chroma_http_client(url)
    return lambda: chroma_client(data_dir)
