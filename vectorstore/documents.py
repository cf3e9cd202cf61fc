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

    @property
    def content_hash(self) -> str:
        """Changes whenever anything we store about the article changes."""
        h = hashlib.sha256()
        for part in (self.title, self.date or "", self.source, self.body):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    """A slice of an article body: `text == article.body[start:end]`."""

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
