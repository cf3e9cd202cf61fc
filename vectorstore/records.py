"""What the store's records hold, read and written as plain data.

A chunk record keeps its place in its article (offsets, hash), not its text, so a chunk
is rebuilt as the slice of its article's stored body (chunks_in_articles) and cannot
disagree with the body its citations are checked against; an article record keeps the
body, metadata and content hash (stored_articles). A record being rewritten carries
PENDING as its hash until its chunks are all written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorstore.documents import Article, Chunk
from vectorstore.sentence_vectors import SENTENCES, encode_rows

PENDING = "pending"  # the hash of a record whose chunks are being written
WRITTEN = "written"  # when a record was last written (time.time() of the writer)

# What a store's records hold besides the model's vectors, recorded with the model's name:
# a store written before sentence vectors were kept must be re-embedded (`newsrag reindex`).
VECTOR_FORMAT = "+sentences"


def store_identity(model_name: str) -> str:
    """The name a store written by this code records for `model_name`."""
    return f"{model_name}{VECTOR_FORMAT}"


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    content_hash: str
    chunks: int


def chunk_metadata(
    chunk: Chunk, content_hash: str, sentences: np.ndarray | None = None
) -> dict[str, Any]:
    """Where the chunk is (its text, title, date and source are its article's), and its
    sentences' vectors when given."""
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "content_hash": content_hash,
    }
    if sentences is not None:
        meta[SENTENCES] = encode_rows(sentences)
    return meta


def chunks_in_articles(
    metadatas: Sequence[Mapping[str, Any]], articles: Mapping[str, StoredArticle]
) -> list[Chunk | None]:
    """Each chunk record as the slice of its article's body; None where that article is
    gone or was changed since (a write in progress or interrupted: its record is pending
    or has another hash), so a chunk's text is always its article's words at its offsets."""
    hashes = {  # a pending record's real hash is computed from what it stores
        doc_id: s.article.content_hash if s.content_hash == PENDING else s.content_hash
        for doc_id, s in articles.items()
    }
    out: list[Chunk | None] = []
    for meta in metadatas:
        stored = articles.get(str(meta["doc_id"]))
        if stored is None:
            out.append(None)
            continue
        article = stored.article
        start, end = int(meta["start"]), int(meta["end"])
        valid = 0 <= start < end <= len(article.body)
        if meta.get("content_hash") != hashes[article.doc_id] or not valid:
            out.append(None)
        else:
            out.append(Chunk.of(article, int(meta["index"]), start, end))
    return out


def stored_articles(got: Mapping[str, Any]) -> dict[str, StoredArticle]:
    """Articles from the result of a Chroma `get` of the articles collection."""
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
        out[doc_id] = StoredArticle(
            article, str(meta.get("content_hash", "")), int(meta.get("chunks", 0))
        )
    return out
