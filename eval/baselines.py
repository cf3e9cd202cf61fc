"""Baselines measured in the same run as newsrag, on the same corpus and questions.

(a) the LangChain tutorial pipeline: RecursiveCharacterTextSplitter(1000, 200), Chroma
    similarity_search with the same MiniLM model;
(b) plain BM25 over the same chunks; (c) Italian-stemmed BM25 over the same chunks.
Each answers with the top BM25 sentence of its top-4 chunks, never abstains and
ignores conversation history, as those pipelines do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import bm25s

from vectorstore.documents import Article
from vectorstore.sentences import sentence_spans

ANSWER_CHUNKS = 4
RETRIEVE = 10  # ranking depth every system is measured to (hit@10)
Tokenizer = Callable[[str], list[str]]


@dataclass(frozen=True)
class BaselineChunk:
    doc_id: str
    title: str
    start: int
    text: str


@dataclass(frozen=True)
class BaselineResult:
    retrieved: list[BaselineChunk]
    answer: str
    citation: tuple[str, str, int, int] | None  # doc_id, quote, start, end


def plain_tokens(text: str) -> list[str]:
    """bm25s's default analysis: lowercase words of two or more characters, nothing else."""
    tokens: list[list[str]] = bm25s.tokenize(
        [text], lower=True, stopwords=None, return_ids=False, show_progress=False
    )
    return tokens[0]


def tutorial_chunks(articles: Sequence[Article]) -> list[BaselineChunk]:
    """The tutorial's 1000/200 character chunks, with their start offsets."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=1000, chunk_overlap=200, add_start_index=True
    )
    chunks = []
    for article in articles:
        for doc in splitter.create_documents([article.body]):
            start = int(doc.metadata["start_index"])
            chunks.append(BaselineChunk(article.doc_id, article.title, start, doc.page_content))
    return chunks


def best_sentence(question: str, chunks: Sequence[BaselineChunk]) -> BaselineResult:
    """The top BM25 (plain tokens) sentence among the sentences of the first chunks."""
    candidates: list[tuple[BaselineChunk, int, int]] = [
        (c, s, e) for c in chunks[:ANSWER_CHUNKS] for s, e in sentence_spans(c.text)
    ]
    query = plain_tokens(question)
    if not candidates or not query:
        return BaselineResult(list(chunks), "", None)
    index = bm25s.BM25()
    index.index(
        [plain_tokens(c.text[s:e]) or ["\x00"] for c, s, e in candidates], show_progress=False
    )
    docs, _ = index.retrieve([query], k=1, show_progress=False, n_threads=1)
    chunk, s, e = candidates[int(docs[0][0])]
    quote = chunk.text[s:e]
    return BaselineResult(
        list(chunks), quote, (chunk.doc_id, quote, chunk.start + s, chunk.start + e)
    )


class BM25Baseline:
    """BM25 over the tutorial chunks, with plain or Italian-stemmed analysis."""

    def __init__(self, chunks: list[BaselineChunk], tokenizer: Tokenizer) -> None:
        self.chunks = chunks
        self.tokenizer = tokenizer
        self.index = bm25s.BM25()
        self.index.index([tokenizer(c.text) or ["\x00"] for c in chunks], show_progress=False)

    def __call__(self, question: str) -> BaselineResult:
        query = self.tokenizer(question)
        if not query:
            return BaselineResult([], "", None)
        docs, scores = self.index.retrieve(
            [query], k=min(RETRIEVE, len(self.chunks)), show_progress=False, n_threads=1
        )
        ranked = [self.chunks[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        return best_sentence(question, ranked)


class TutorialBaseline:
    """LangChain's RAG tutorial retrieval: dense similarity search in Chroma."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @classmethod
    def build(cls, chunks: list[BaselineChunk], embeddings: Any, client: Any) -> TutorialBaseline:
        """Embed the chunks into a Chroma collection through LangChain, as the tutorial does."""
        from langchain_chroma import Chroma
        from langchain_core.documents import Document

        store = Chroma(
            client=client, collection_name="baseline_tutorial", embedding_function=embeddings
        )
        docs = [
            Document(
                page_content=c.text,
                metadata={"doc_id": c.doc_id, "title": c.title, "start": c.start},
            )
            for c in chunks
        ]
        for i in range(0, len(docs), 256):
            batch = docs[i : i + 256]
            store.add_documents(batch, ids=[f"c{i + n}" for n in range(len(batch))])
        return cls(store)

    def __call__(self, question: str) -> BaselineResult:
        found = self.store.similarity_search(question, k=RETRIEVE)
        ranked = [
            BaselineChunk(
                d.metadata["doc_id"], d.metadata["title"], int(d.metadata["start"]), d.page_content
            )
            for d in found
        ]
        return best_sentence(question, ranked)
