"""The records that flow from files to the store: articles and their chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One news article; `body` is the text that every offset refers to."""

    doc_id: str
    title: str
    date: str | None
    source: str
    body: str
    author: str | None = None
    url: str | None = None

    @property
    def content_hash(self) -> str:
        """Changes whenever anything we store about the article changes.

        Author and URL enter the hash only when present, so stores built before
        they existed keep their hashes (nothing is re-embedded for no reason).
        """
        h = hashlib.sha256()
        parts = [self.title, self.date or "", self.source, self.body]
        if self.author or self.url:
            parts += [self.author or "", self.url or ""]
        for part in parts:
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of an article body: `text == article.body[start:end]`. Slotted: a server
    holds every chunk (100k of them: 22 → 16 MB of objects, measured)."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    title: str = ""
    date: str | None = None
    source: str = ""

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.index}"

    @classmethod
    def of(cls, article: Article, index: int, start: int, end: int) -> Chunk:
        """The chunk of `article` from `start` to `end`: its text is that slice of the body."""
        return cls(
            article.doc_id, index, start, end, article.body[start:end],
            article.title, article.date, article.source,
        )  # fmt: skip


@dataclass(frozen=True)
class DocumentInfo:
    """What a listing shows of a stored article (no body)."""

    doc_id: str
    title: str
    date: str | None
    source: str
    url: str | None
    chunks: int
    author: str | None = None
