"""Chroma as the single source of truth: one collection of chunks, one of articles.

The chunks collection holds the dense vectors; the articles collection holds each
article's body (for citation checks), its metadata and content hash (for
idempotent ingestion), with the mean of its chunk vectors as its own vector.
The client is passed in and collections are opened lazily on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import StoreError
from vectorstore.documents import Article, Chunk, DocumentInfo

ClientFactory = Callable[[], Any]


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    content_hash: str
    chunks: int


def _chunk_metadata(chunk: Chunk, content_hash: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "title": chunk.title,
        "source": chunk.source,
        "content_hash": content_hash,
    }
    if chunk.date:
        meta["date"] = chunk.date
    return meta


def _chunk_from(text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        doc_id=str(meta["doc_id"]),
        index=int(meta["index"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        title=str(meta.get("title", "")),
        date=meta.get("date"),
        source=str(meta.get("source", "")),
    )


def _mean_vector(vectors: Sequence[Sequence[float]]) -> list[float]:
    dim = len(vectors[0])
    mean = [sum(v[i] for v in vectors) / len(vectors) for i in range(dim)]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]


class ChromaStore:
    """Articles and chunks in Chroma, for any client (embedded or `chroma run`)."""

    def __init__(self, client: ClientFactory, embedding_model: str, prefix: str = "newsrag"):
        self._client_factory = client
        self.embedding_model = embedding_model
        self.prefix = prefix
        self._collections: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _open(self) -> tuple[Any, Any]:
        with self._lock:
            if self._collections is None:
                client = self._client_factory()
                meta = {"embedding_model": self.embedding_model}
                config = {"hnsw": {"space": "cosine"}}
                chunks = client.get_or_create_collection(
                    f"{self.prefix}_chunks", configuration=config, metadata=meta,
                    embedding_function=None,
                )  # fmt: skip
                articles = client.get_or_create_collection(
                    f"{self.prefix}_articles", configuration=config, metadata=meta,
                    embedding_function=None,
                )  # fmt: skip
                built_with = (chunks.metadata or {}).get("embedding_model")
                if built_with and built_with != self.embedding_model:
                    raise StoreError(
                        f"the store was built with the embedding model {built_with!r}, not "
                        f"{self.embedding_model!r}: use another NEWSRAG_DATA_DIR or re-ingest "
                        "into an empty one"
                    )
                self._collections = (chunks, articles)
            return self._collections

    @property
    def chunks(self) -> Any:
        return self._open()[0]

    @property
    def articles(self) -> Any:
        return self._open()[1]

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) stored."""
        return int(self.articles.count()), int(self.chunks.count())

    def content_hashes(self) -> dict[str, str]:
        got = self.articles.get(include=["metadatas"])
        return {
            i: str(m["content_hash"]) for i, m in zip(got["ids"], got["metadatas"], strict=True)
        }

    def put_article(
        self, article: Article, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Add or replace an article: new chunks go in before the old ones go out."""
        if not chunks or len(chunks) != len(vectors):
            raise ValueError("an article needs one vector per chunk and at least one chunk")
        content_hash = article.content_hash
        ids = [f"{c.chunk_id}@{content_hash}" for c in chunks]
        self.chunks.upsert(
            ids=ids,
            embeddings=[list(v) for v in vectors],
            documents=[c.text for c in chunks],
            metadatas=[_chunk_metadata(c, content_hash) for c in chunks],
        )
        stale = self.chunks.get(where={"doc_id": article.doc_id}, include=[])["ids"]
        stale_ids = sorted(set(stale) - set(ids))
        if stale_ids:
            self.chunks.delete(ids=stale_ids)
        meta: dict[str, Any] = {
            "title": article.title,
            "source": article.source,
            "content_hash": content_hash,
            "chunks": len(chunks),
        }
        for key in ("date", "author", "url"):
            if getattr(article, key):
                meta[key] = getattr(article, key)
        self.articles.upsert(
            ids=[article.doc_id],
            embeddings=[_mean_vector(vectors)],
            documents=[article.body],
            metadatas=[meta],
        )

    def has_article(self, doc_id: str) -> bool:
        return bool(self.articles.get(ids=[doc_id], include=[])["ids"])

    def delete_article(self, doc_id: str) -> bool:
        """Remove an article and every one of its chunks; False when it was not stored."""
        if not self.has_article(doc_id):
            return False
        self.chunks.delete(where={"doc_id": doc_id})
        self.articles.delete(ids=[doc_id])
        return True

    def get_articles(self, doc_ids: Sequence[str] | None = None) -> dict[str, StoredArticle]:
        if doc_ids is not None and not doc_ids:
            return {}
        got = self.articles.get(
            ids=sorted(set(doc_ids)) if doc_ids is not None else None,
            include=["documents", "metadatas"],
        )
        out: dict[str, StoredArticle] = {}
        for doc_id, body, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            article = Article(
                doc_id=doc_id,
                title=str(meta.get("title", "")),
                date=meta.get("date"),
                source=str(meta.get("source", "")),
                body=body,
                author=meta.get("author"),
                url=meta.get("url"),
            )
            out[doc_id] = StoredArticle(article, str(meta["content_hash"]), int(meta["chunks"]))
        return out

    def documents(self) -> list[DocumentInfo]:
        """Every stored article's metadata (no bodies), by id."""
        got = self.articles.get(include=["metadatas"])
        infos = [
            DocumentInfo(
                doc_id=doc_id,
                title=str(meta.get("title", "")),
                date=meta.get("date"),
                source=str(meta.get("source", "")),
                url=meta.get("url"),
                chunks=int(meta.get("chunks", 0)),
                author=meta.get("author"),
            )
            for doc_id, meta in zip(got["ids"], got["metadatas"], strict=True)
        ]
        return sorted(infos, key=lambda d: d.doc_id)

    def doc_ids_from_source(self, source: str) -> list[str]:
        """Ids of the articles read from the file named `source` (a JSONL file holds many)."""
        return sorted(self.articles.get(where={"source": source}, include=[])["ids"])

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, in article and position order (for the lexical index)."""
        got = self.chunks.get(include=["documents", "metadatas"])
        chunks = [
            _chunk_from(text, meta)
            for text, meta in zip(got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: (c.doc_id, c.index))

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[Chunk, float]]:
        """The `k` nearest chunks with their cosine similarity."""
        total = int(self.chunks.count())
        if total == 0:
            return []
        got = self.chunks.query(
            query_embeddings=[list(vector)],
            n_results=min(k, total),
            include=["documents", "metadatas", "distances"],
        )
        return [
            (_chunk_from(text, meta), 1.0 - float(dist))
            for text, meta, dist in zip(
                got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]
