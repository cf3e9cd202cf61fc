"""What flows through the answer chain (`NewsQA.chain`): a checked question, then its evidence.

Two typed steps instead of one dict with string keys, so each Runnable's input and
output is named: `retrieve` takes a `Query` and returns `Retrieved`; `answer` takes
`Retrieved` and returns an `Answer`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from langchain_core.documents import Document

from rag.errors import InputError
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.focus import Quote
from rag.retrieval.hybrid import DateRange


@dataclass(frozen=True)
class Query:
    """A question as the service accepted it: stripped, within limits, dates in order."""

    question: str
    history: list[dict[str, str]] = field(default_factory=list)
    top_k: int = 4
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def dates(self) -> DateRange:
        return (self.date_from, self.date_to)


def checked_query(
    question: str,
    history: Sequence[Mapping[str, str]],
    top_k: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    max_chars: int,
) -> Query:
    """The `Query` for a user's question, or an InputError saying what is wrong with it:
    empty, longer than `max_chars`, or dates out of order."""
    question = question.strip()
    if not question:
        raise InputError("the question is empty: ask something about the articles")
    if len(question) > max_chars:
        raise InputError(f"the question has {len(question)} characters; the limit is {max_chars}")
    if date_from and date_to and date_from > date_to:
        raise InputError(
            f"date_from ({date_from}) is after date_to ({date_to}): swap them or widen the range"
        )
    return Query(question, [dict(m) for m in history], top_k, date_from, date_to)


@dataclass(frozen=True)
class Retrieved:
    """A query with its evidence: the ranked passages (as LangChain Documents, best first),
    the lexical corpus they were found in, the bodies of their articles (read once, so
    citation offsets refer to exactly these), the question's weighted terms and, for a
    follow-up on the same topic, the previous answer's quotes (their articles are what
    the conversation is about)."""

    query: Query
    corpus: LexicalCorpus
    documents: list[Document]
    bodies: dict[str, str]
    terms: dict[str, float]
    quotes: tuple[Quote, ...] = ()

    @property
    def focus(self) -> frozenset[str]:
        return frozenset(q.chunk.doc_id for q in self.quotes)
