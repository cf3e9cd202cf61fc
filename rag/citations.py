"""Citations are sacred: a quote is shown only if it is the article body at its offsets."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel


class Citation(BaseModel):
    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    quote: str
    start: int
    end: int


def is_verbatim(quote: str, body: str, start: int, end: int) -> bool:
    """True when `body[start:end] == quote` (and the span is a real, non-empty slice)."""
    return 0 <= start < end <= len(body) and body[start:end] == quote


def invalid_citations(citations: list[Citation], bodies: Mapping[str, str]) -> list[Citation]:
    """The citations whose quote is not verbatim in their article (should always be empty)."""
    return [
        c
        for c in citations
        if c.doc_id not in bodies or not is_verbatim(c.quote, bodies[c.doc_id], c.start, c.end)
    ]
