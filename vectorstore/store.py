"""Chroma as the single source of truth: one collection of chunks, one of articles.

The articles collection holds each article's body (for citation checks), its
metadata and content hash (for idempotent ingestion), with the mean of its chunk
vectors as its own vector. The chunks collection holds the dense vectors (with each
chunk's sentences' vectors: vectorstore.sentence_vectors) and each chunk's place in
its article (id, offsets, hash), not its text: a chunk is read back as the slice of
its article's stored body, so it cannot disagree with the body its citations are
checked against; and chunk writes are 1.45x cheaper and the store 1.6x smaller than
with the text kept (bench/chunk_writes.py, README).
The client is passed in and collections are opened lazily on first use; their
names, and the switch to re-embedded ones after `newsrag reindex`, are in
vectorstore.switch (protocol: vectorstore.reindex).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rag.errors import ModelMismatchError
from vectorstore import switch
from vectorstore.documents import Article, Chunk, DocumentInfo
from vectorstore.records import (
    PENDING,
    WRITTEN,
    StoredArticle,
    chunk_metadata,
    chunks_in_articles,
    stored_articles,
)
from vectorstore.sentence_vectors import (
    SENTENCES,
    StoredVectors,
    stored_vectors,
    unit_mean,
)

ClientFactory = Callable[[], Any]
# (article, its chunks, one vector per chunk, extra record metadata such as duplicate keys)
ArticleWrite = tuple[Article, Sequence[Chunk], Sequence[Sequence[float]], dict[str, Any]]
WRITE_BATCH = 1_000  # chunks per upsert (Chroma's limit is ~5,000)
_PAGE = 10_000  # rows per Chroma `get` when reading a whole collection


class ChromaStore:
    """Articles and chunks in Chroma, for any client (embedded or `chroma run`)."""

    def __init__(
        self,
        client: ClientFactory,
        embedding_model: str,
        prefix: str = "newsrag",
        collections: tuple[str, str] | None = None,
    ):
        self._client_factory = client
        self.embedding_model = embedding_model
        self.prefix = prefix
        # (chunks, articles) collection names: the live ones unless a reindex builds others
        self.collection_names = collections or switch.names(prefix)
        self._collections: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """A Chroma client of this store's server or folder."""
        return self._client_factory()

    def on_collections(self, collections: tuple[str, str], embedding_model: str) -> ChromaStore:
        """A store over other collections of the same Chroma, for another model."""
        return ChromaStore(self._client_factory, embedding_model, self.prefix, collections)

    def reopen(self) -> None:
        """Open the collections again on next use (a reindex switched them)."""
        with self._lock:
            self._collections = None

    def _open(self) -> tuple[Any, Any]:
        with self._lock:
            if self._collections is None:
                client = self._client_factory()
                switch.finish_switch(client, self.prefix)  # a reindex interrupted mid-switch
                meta = {"embedding_model": self.embedding_model}
                config = {"hnsw": {"space": "cosine"}}
                chunks, articles = (
                    client.get_or_create_collection(
                        name, configuration=config, metadata=meta, embedding_function=None
                    )
                    for name in self.collection_names
                )
                built_with = (chunks.metadata or {}).get("embedding_model")
                if built_with and built_with != self.embedding_model:
                    if chunks.count() or articles.count():
                        raise ModelMismatchError(built_with, self.embedding_model)
                    for empty in (chunks, articles):  # no vectors yet: any model may take it
                        empty.modify(metadata={**(empty.metadata or {}), **meta})
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

    def records(self) -> dict[str, dict[str, Any]]:
        """Every article's metadata (hash, chunk count, duplicate keys), by id; no bodies.
        Ids first, then WRITE_BATCH ids at a time: one `get` matching more than 32,766
        records fails in Chroma's SQLite ("too many SQL variables")."""
        ids = self.articles.get(include=[])["ids"]
        out: dict[str, dict[str, Any]] = {}
        for got in self._read_articles(ids, ["metadatas"]):
            out.update(
                (i, dict(m or {})) for i, m in zip(got["ids"], got["metadatas"], strict=True)
            )
        return out

    def records_since(self, when: float) -> dict[str, dict[str, Any]]:
        """The metadata of the articles written (or marked pending) at `when` or later, by
        wall-clock time of the writer: a cheap way to follow changes (deletions aside)."""
        got = self.articles.get(where={WRITTEN: {"$gte": when}}, include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=True)}

    def content_hashes(self) -> dict[str, str]:
        return {i: str(m.get("content_hash", "")) for i, m in self.records().items()}

    def bodies(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The stored bodies of these articles, by id (unknown ids left out); documents only,
        as every answer's citation check reads them."""
        out: dict[str, str] = {}
        for got in self._read_articles(doc_ids, ["documents"]):
            out.update(zip(got["ids"], map(str, got["documents"]), strict=True))
        return out

    def put_article(
        self, article: Article, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        self.put_articles([(article, chunks, vectors, {})])

    def put_articles(
        self,
        items: Sequence[ArticleWrite],
        sentences: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Add or replace articles so that a crash at any point is repaired by a re-run;
        `sentences` holds chunks' sentence vectors by chunk id (kept in their records).

        1. each article's record is written as *pending* (its hash is not the real one),
        2. the new chunks are upserted (ids derive from the content, so a re-run
           overwrites them), 3. stale chunks of the same articles are deleted,
        4. the records get their real hash. An interrupted run leaves pending records,
        which the next run sees as changed and redoes; a record with its real hash
        always has exactly its own chunks.
        """
        if not items:
            return
        for article, chunks, vectors, _ in items:
            if not chunks or len(chunks) != len(vectors):
                raise ValueError(f"{article.doc_id}: one vector per chunk, at least one chunk")
        doc_ids = [a.doc_id for a, *_ in items]
        # Only an article with a record can have chunks (records are written first and
        # deleted last), so only those are searched for stale chunks: that metadata query
        # costs ~10 ms per article at 100k chunks, a lookup of new ids ~1 ms in all.
        had_record = self.articles.get(ids=doc_ids, include=[])["ids"]
        self._put_records(items)
        ids: list[str] = []
        embeddings: list[list[float]] = []
        metadatas: list[dict[str, Any]] = []
        for article, chunks, vectors, _ in items:
            content_hash = article.content_hash
            ids.extend(f"{c.chunk_id}@{content_hash}" for c in chunks)
            embeddings.extend(list(v) for v in vectors)
            metadatas.extend(
                chunk_metadata(c, content_hash, (sentences or {}).get(c.chunk_id)) for c in chunks
            )
        for at in range(0, len(ids), WRITE_BATCH):  # one round trip per batch, not per article
            part = slice(at, at + WRITE_BATCH)
            self.chunks.upsert(
                ids=ids[part],
                embeddings=embeddings[part],
                metadatas=metadatas[part],
            )
        if had_record:
            present = self.chunks.get(where={"doc_id": {"$in": had_record}}, include=[])["ids"]
            stale_ids = sorted(set(present) - set(ids))
            if stale_ids:
                self.chunks.delete(ids=stale_ids)
        # Only the hash changes: an update of the metadata leaves body and vector alone.
        written = time.time()
        self.articles.update(
            ids=doc_ids,
            metadatas=[{"content_hash": a.content_hash, WRITTEN: written} for a, *_ in items],
        )

    def _put_records(self, items: Sequence[ArticleWrite]) -> None:
        """The articles' records (body, metadata, mean vector), marked pending."""
        metadatas = []
        for article, chunks, _, extra in items:
            meta: dict[str, Any] = {
                "title": article.title,
                "source": article.source,
                "content_hash": PENDING,
                WRITTEN: time.time(),
                "chunks": len(chunks),
                **extra,
            }
            for key in ("date", "author", "url"):
                if getattr(article, key):
                    meta[key] = getattr(article, key)
            metadatas.append(meta)
        self.articles.upsert(
            ids=[a.doc_id for a, *_ in items],
            embeddings=[unit_mean(np.asarray(v)).tolist() for _, _, v, _ in items],
            documents=[a.body for a, *_ in items],
            metadatas=metadatas,
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
        """These articles (all when None)."""
        out: dict[str, StoredArticle] = {}
        for got in self._read_articles(doc_ids, ["documents", "metadatas"]):
            out.update(stored_articles(got))
        return out

    def _read_articles(
        self, doc_ids: Sequence[str] | None, include: list[str]
    ) -> Iterator[Mapping[str, Any]]:
        """Chroma `get` results for these articles (all when None), WRITE_BATCH ids or _PAGE
        rows at a time: one read of very many rows exceeds SQLite's variable limit."""
        if doc_ids is None:
            for offset in itertools.count(0, _PAGE):
                got = self.articles.get(include=include, limit=_PAGE, offset=offset)
                yield got
                if len(got["ids"]) < _PAGE:
                    return
        ids = sorted(set(doc_ids or ()))
        for at in range(0, len(ids), WRITE_BATCH):
            yield self.articles.get(ids=ids[at : at + WRITE_BATCH], include=include)

    def documents(self) -> list[DocumentInfo]:
        """Every stored article's metadata (no bodies), by id."""
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
            for doc_id, meta in self.records().items()
        ]
        return sorted(infos, key=lambda d: d.doc_id)

    def doc_ids_from_source(self, source: str) -> list[str]:
        """Ids of the articles read from the file named `source` (a JSONL file holds many)."""
        return sorted(self.articles.get(where={"source": source}, include=[])["ids"])

    def chunk_records(self, metadata: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
        """Every chunk's id and (unless not asked for) metadata, read _PAGE rows at a time."""
        ids: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for offset in itertools.count(0, _PAGE):
            got = self.chunks.get(
                include=["metadatas"] if metadata else [], limit=_PAGE, offset=offset
            )
            ids += got["ids"]  # sentence vectors left out: ~2.6 kB a chunk, not needed here
            metadatas += [
                {k: v for k, v in (m or {}).items() if k != SENTENCES}
                for m in got.get("metadatas") or []
            ]
            if len(got["ids"]) < _PAGE:
                break
        return ids, metadatas

    def chunks_of(
        self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> list[tuple[str, Chunk]]:
        """These chunk records (as `chunk_records` reads them) as (id, chunk) pairs cut from
        their articles' stored bodies, in article and position order; stale ones left out."""
        found = chunks_in_articles(metadatas, self.get_articles())
        return sorted(
            ((i, c) for i, c in zip(ids, found, strict=True) if c is not None),
            key=lambda r: (r[1].doc_id, r[1].index),
        )

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, in article and position order (for the lexical index)."""
        return [c for _, c in self.chunks_of(*self.chunk_records())]

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[Chunk, float]]:
        """The `k` nearest chunks with their cosine similarity."""
        return [(c, cosine) for c, cosine, _ in self.nearest(vector, k)]

    def nearest(self, vector: Sequence[float], k: int) -> list[tuple[Chunk, float, StoredVectors]]:
        """The `k` nearest chunks with their cosine similarity and stored vectors."""
        total = int(self.chunks.count())
        if total == 0:
            return []
        got = self.chunks.query(
            query_embeddings=[list(vector)],
            n_results=min(k, total),
            include=["metadatas", "distances", "embeddings"],
        )
        metadatas, distances = got["metadatas"][0], got["distances"][0]
        articles = self.get_articles([str(m["doc_id"]) for m in metadatas])
        found = chunks_in_articles(metadatas, articles)
        return [
            (c, 1.0 - float(d), stored_vectors(c, v, m))
            for c, d, v, m in zip(found, distances, got["embeddings"][0], metadatas, strict=True)
            if c
        ]

    def chunk_vectors(self, chunks: Sequence[Chunk]) -> list[StoredVectors | None]:
        """The stored vectors of each chunk (None where it is not stored, or its article is
        being rewritten): the re-ranker's dense feature for candidates that only the lexical
        index proposed. A chunk record's id is its chunk id and its article's hash."""
        if not chunks:
            return []
        records = self.articles.get(ids=sorted({c.doc_id for c in chunks}), include=["metadatas"])
        hashes = {
            i: str((m or {}).get("content_hash", ""))
            for i, m in zip(records["ids"], records["metadatas"], strict=True)
        }
        ids = {
            c.chunk_id: f"{c.chunk_id}@{hashes[c.doc_id]}"
            for c in chunks
            if hashes.get(c.doc_id, PENDING) != PENDING
        }
        found = self._vectors(sorted(set(ids.values())))
        out: list[StoredVectors | None] = []
        for c in chunks:
            record = found.get(ids.get(c.chunk_id, ""))
            out.append(None if record is None else stored_vectors(c, *record))
        return out

    def _vectors(self, ids: list[str]) -> dict[str, tuple[Any, Mapping[str, Any] | None]]:
        """Vectors and metadata by record id. Embedded Chroma, after a process was killed
        mid-write, can fail a batch read on one record ("Error finding id") while the rest
        read fine: then each is read alone and the unreadable ones are left out (their
        cosine counts 0)."""
        include = ["embeddings", "metadatas"]
        try:
            batches = [self.chunks.get(ids=ids, include=include)]
        except Exception:  # chromadb's InternalError; the store itself stays usable
            batches = []
            for one in ids:
                with contextlib.suppress(Exception):
                    batches.append(self.chunks.get(ids=[one], include=include))
        return {
            i: (v, m)
            for got in batches
            for i, v, m in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True)
        }
