"""Hybrid retrieval: Italian BM25 and dense vectors fused by weighted rank fusion.

A conversation becomes weighted queries (the question itself, and the question
with the previous user turn for follow-ups such as "e lui cosa ha detto?").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.fusion import reciprocal_rank_fusion
from rag.lexical import LexicalIndex, analyze
from vectorstore.documents import Chunk

DenseSearch = Callable[[str, int], list[tuple[Chunk, float]]]
HISTORY_WEIGHT = 0.5


@dataclass(frozen=True)
class Query:
    text: str
    weight: float = 1.0


def conversation_queries(question: str, history: Sequence[dict[str, str]]) -> list[Query]:
    """The question, plus (at half weight) the question joined to the last user turn."""
    queries = [Query(question, 1.0)]
    previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if previous:
        queries.append(Query(f"{previous[-1]} {question}", HISTORY_WEIGHT))
    return queries


@dataclass
class LexicalCorpus:
    """The chunks and the BM25 index over them, position for position."""

    chunks: list[Chunk]
    index: LexicalIndex

    @classmethod
    def build(cls, chunks: list[Chunk]) -> LexicalCorpus:
        return cls(chunks, LexicalIndex([c.text for c in chunks]))


def hybrid_search(
    queries: Sequence[Query],
    corpus: LexicalCorpus,
    dense: DenseSearch | None,
    k: int,
    candidates: int,
    dense_weight: float,
) -> list[tuple[Chunk, float]]:
    """The `k` best chunks by weighted RRF over BM25 and dense rankings of every query."""
    rankings: list[list[str]] = []
    weights: list[float] = []
    by_id: dict[str, Chunk] = {}
    for query in queries:
        hits = corpus.index.search(analyze(query.text), candidates)
        lexical = [corpus.chunks[i] for i, _ in hits]
        rankings.append([c.chunk_id for c in lexical])
        weights.append(query.weight * (1.0 - dense_weight))
        by_id.update((c.chunk_id, c) for c in lexical)
        if dense is not None and dense_weight > 0:
            near = [c for c, _ in dense(query.text, candidates)]
            rankings.append([c.chunk_id for c in near])
            weights.append(query.weight * dense_weight)
            by_id.update((c.chunk_id, c) for c in near)
    fused = reciprocal_rank_fusion(rankings, weights)
    return [(by_id[key], score) for key, score in fused[:k]]


def to_document(chunk: Chunk, score: float) -> Document:
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "doc_id": chunk.doc_id,
            "index": chunk.index,
            "start": chunk.start,
            "end": chunk.end,
            "title": chunk.title,
            "date": chunk.date,
            "source": chunk.source,
            "score": score,
        },
    )


def from_document(doc: Document) -> Chunk:
    m = doc.metadata
    return Chunk(
        doc_id=m["doc_id"],
        index=int(m["index"]),
        start=int(m["start"]),
        end=int(m["end"]),
        text=doc.page_content,
        title=m.get("title", ""),
        date=m.get("date"),
        source=m.get("source", ""),
    )


class NewsRetriever(BaseRetriever):
    """LangChain retriever over the news store, for use in any LangChain chain."""

    search: Callable[[str, int], list[tuple[Chunk, float]]]
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [to_document(c, s) for c, s in self.search(query, self.k)]
