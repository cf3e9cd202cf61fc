"""Citations are sacred: a quote is shown only if it is the article body at its offsets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from rag.answering.span import answer_span
from vectorstore.documents import Chunk


class Span(BaseModel):
    """The words of a quote that answer the question (a name, place, number, date), at
    their offsets in the article body, inside the quote's."""

    start: int
    end: int
    text: str


class Citation(BaseModel):
    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    quote: str
    start: int
    end: int
    span: Span | None = Field(default=None, exclude_if=lambda v: v is None)

    @classmethod
    def cut(cls, n: int, chunk: Chunk, body: str, start: int, end: int) -> Citation:
        """Citation `n` of `body[start:end]`, labelled with its chunk's article metadata:
        the one place a quote is cut from an article body."""
        return cls(
            n=n,
            doc_id=chunk.doc_id,
            title=chunk.title,
            date=chunk.date,
            source=chunk.source,
            quote=body[start:end],
            start=start,
            end=end,
        )


def is_verbatim(quote: str, body: str, start: int, end: int) -> bool:
    """True when `body[start:end] == quote` (and the span is a real, non-empty slice)."""
    return 0 <= start < end <= len(body) and body[start:end] == quote


def invalid_citations(citations: list[Citation], bodies: Mapping[str, str]) -> list[Citation]:
    """The citations whose quote, or answering span, is not verbatim in their article at
    its offsets, or whose span lies outside the quote (should always be empty)."""
    return [
        c
        for c in citations
        if c.doc_id not in bodies
        or not is_verbatim(c.quote, bodies[c.doc_id], c.start, c.end)
        or (
            c.span is not None
            and not (
                c.start <= c.span.start < c.span.end <= c.end
                and is_verbatim(c.span.text, bodies[c.doc_id], c.span.start, c.span.end)
            )
        )
    ]


def with_span(
    citations: Sequence[Citation],
    question: str,
    weights: Mapping[str, float],
    bodies: Mapping[str, str],
) -> list[Citation]:
    """The citations, the first quote holding words of the kind `question` asks for marked
    with them as its span (rag.answering.span); a name in a later quote goes before a phrase
    of place in the first ("Nelle storie successive…" against "BBC One")."""
    for phrases in (False, True):
        for i, citation in enumerate(citations):
            found = answer_span(question, citation.quote, weights, phrases)
            if found:
                a, b = citation.start + found[0], citation.start + found[1]
                span = Span(start=a, end=b, text=bodies[citation.doc_id][a:b])
                marked = citation.model_copy(update={"span": span})
                return [*citations[:i], marked, *citations[i + 1 :]]
    return list(citations)
