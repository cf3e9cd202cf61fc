"""Hybrid retrieval: Italian BM25 and dense vectors fused by weighted score fusion.

A conversation becomes weighted queries (the question itself, and the question
with the previous user turn for follow-ups such as "e lui cosa ha detto?").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.retrieval.answer_types import asking_words
from rag.retrieval.corpus import LexicalCorpus, top_blended
from rag.retrieval.dates import date_boost, in_range, question_dates
from rag.retrieval.focus import focused, turns
from rag.retrieval.fusion import score_fusion, unit_range
from rag.retrieval.lexical import analyze
from rag.retrieval.rerank import Candidate, Cosines, LinearModel, rerank_scores
from vectorstore.documents import Chunk

DenseSearch = Callable[[str, int], list[tuple[Chunk, float]]]
# the question's cosines to each of these chunks (their stored vectors), in order
DenseScores = Callable[[str, Sequence[Chunk]], list[Cosines]]
DateRange = tuple[dt.date | None, dt.date | None]
HISTORY_WEIGHT = 0.5  # the question joined to the previous user turn
ANSWER_WEIGHT = 0.3  # the question joined to the previous answer
ELLIPTICAL_BOOST = 2.0  # both weigh more when the question leans on the conversation
_MARKER = re.compile(r"\s*\[\d+\]")
RERANK_DEPTH = 30  # fused candidates the re-ranker re-scores


@dataclass(frozen=True)
class Query:
    text: str
    weight: float = 1.0


def conversation_queries(question: str, history: Sequence[dict[str, str]]) -> list[Query]:
    """The question; for a follow-up also, at lower weights, the question joined to the
    previous user turn and to the previous answer ("e lui cosa ha detto?" is about the
    people and the passage of the last exchange)."""
    queries = [Query(question, 1.0)]
    boost = ELLIPTICAL_BOOST if is_elliptical(question) else 1.0
    previous = turns(history, "user")
    if previous:
        queries.append(Query(f"{previous[-1]} {question}", HISTORY_WEIGHT * boost))
    answers = turns(history, "assistant")
    if answers:
        queries.append(Query(f"{strip_markers(answers[-1])} {question}", ANSWER_WEIGHT * boost))
    return queries


# Pronouns, demonstratives and possessives that point back ("Chi era sua moglie?"), and
# "vi" for a place already named ("Per quanto tempo vi rimase?"; not "vi sono", "there
# are"); not "le"/"gli"/"ne", which are mostly articles or clitics ("le garanzie"), nor
# English "it"/"that".
_ANAPHORA = re.compile(
    r"^(e|ed|anche|ma|and|also)\b|\b(lui|lei|loro|esso|essa|questo|questa|questi|queste|"
    r"quello|quella|quelli|quelle|gliel\w*|he|she|they|this|these|those|him|her|them|"
    r"suo|sua|suoi|sue|his|its|their)\b"
    r"|\bvi\b(?!\s+(?:sono|è|era|erano|fu|furono|sarà|saranno)\b)",
    re.IGNORECASE,
)


# An infinitive with an object pronoun attached ("regalarli", "venderlo", "parlarne"):
# lower case and long, so that names ("Carlo") do not count.
_ENCLITIC = re.compile(r"\b[a-zà-ù]{3,}(?:ar|er|ir)(?:lo|la|li|le|gli|ne)\b")


def is_elliptical(question: str) -> bool:
    """A follow-up that leans on the conversation: it opens with "E…", points back with a
    pronoun, a demonstrative, a possessive, "vi" or an object pronoun attached to a verb, or
    has at most one content word of its own besides those asking for a kind of answer ("In
    che anno è stata fondata?", "In quale città è nato?": what was founded, who was born,
    the conversation says)."""
    asking = asking_words(question)
    own = question if asking is None else question[: asking[0]] + question[asking[1] :]
    return bool(_ANAPHORA.search(question) or _ENCLITIC.search(question)) or len(analyze(own)) <= 1


def strip_markers(text: str) -> str:
    """An answer's text without its `[n]` citation markers."""
    return _MARKER.sub("", text)


@dataclass
class FirstStage:
    """The fused candidates of every query, and the main question's BM25 parts."""

    fused: list[tuple[Chunk, float]]
    parts: dict[str, tuple[float, float, float]]  # chunk id -> LexicalCorpus.scores parts

    def candidates(self, depth: int, dense: Sequence[Cosines] = ()) -> list[Candidate]:
        """The best `depth` fused chunks as the re-ranker's candidates, with the question's
        cosines to each (`dense`, in the same order) when there are some."""
        cosines = list(dense) or [Cosines()] * min(depth, len(self.fused))
        return [
            Candidate(c.title, c.text, score, *self.parts.get(c.chunk_id, (0.0, 0.0, 0.0)), cos)
            for (c, score), cos in zip(self.fused[:depth], cosines, strict=True)
        ]


def first_stage(
    queries: Sequence[Query],
    corpus: LexicalCorpus,
    dense: DenseSearch | None,
    candidates: int,
    dense_weight: float,
    dates: DateRange = (None, None),
) -> FirstStage:
    """Weighted score fusion of the BM25 (and dense) results of every query (each list's
    scores normalised by its best). Only chunks of articles dated inside `dates` compete
    when a range is set."""
    lists: list[list[tuple[str, float]]] = []
    weights: list[float] = []
    by_id: dict[str, Chunk] = {}
    main: dict[str, tuple[float, float, float]] = {}
    mask = corpus.mask(*dates)
    for n, query in enumerate(queries):
        parts = corpus.scores(query.text, candidates, mask)
        hits = top_blended(parts, candidates)
        if n == 0:
            main = {corpus.chunks[p].chunk_id: parts[p] for p in parts}
        lists.append([(corpus.chunks[i].chunk_id, score) for i, score in hits])
        weights.append(query.weight * (1.0 - dense_weight))
        by_id.update((corpus.chunks[i].chunk_id, corpus.chunks[i]) for i, _ in hits)
        if dense is not None and dense_weight > 0:
            near = [(c, s) for c, s in dense(query.text, candidates) if in_range(c.date, *dates)]
            lists.append(spread([(c.chunk_id, s) for c, s in near]))
            weights.append(query.weight * dense_weight)
            by_id.update((c.chunk_id, c) for c, _ in near)
    fused = [(by_id[key], score) for key, score in score_fusion(lists, weights)]
    return FirstStage(fused, main)


def spread(scored: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """A dense list's cosines mapped so its worst is 0 and its best 1 (unit_range), where
    BM25 lists are divided by their best."""
    return list(zip([k for k, _ in scored], unit_range([s for _, s in scored]), strict=True))


def hybrid_search(
    queries: Sequence[Query],
    corpus: LexicalCorpus,
    dense: DenseSearch | None,
    k: int,
    candidates: int,
    dense_weight: float,
    dates: DateRange = (None, None),
    reranker: LinearModel | None = None,
    term_weights: Mapping[str, float] | None = None,
    dense_scores: DenseScores | None = None,
    focus: Collection[str] = (),
) -> list[tuple[Chunk, float]]:
    """The `k` best chunks: the first stage's fused candidates, the best RERANK_DEPTH of
    them re-scored by `reranker` if given (against the question's `term_weights`, by
    default its terms' IDF, and its cosines to each from `dense_scores`; without them its
    dense features are left out: rag.retrieval.rerank.without_dense), and those of
    articles from the day, month or weekday the question names boosted, and (for a
    follow-up) those of the articles in `focus` raised (rag.retrieval.focus)."""
    stage = first_stage(queries, corpus, dense, candidates, dense_weight, dates)
    ranked = stage.fused
    question = queries[0].text if queries else ""
    if reranker is not None and ranked:
        if term_weights is None:
            term_weights = {t: corpus.index.idf(t) for t in analyze(question)}
        top = [c for c, _ in ranked[:RERANK_DEPTH]]
        pool = stage.candidates(RERANK_DEPTH, dense_scores(question, top) if dense_scores else ())
        scores = rerank_scores(question, term_weights, pool, reranker, dense_scores is not None)
        ranked = sorted(
            ((c, s) for (c, _), s in zip(ranked[: len(pool)], scores, strict=True)),
            key=lambda item: -item[1],
        ) + [(c, 0.0) for c, _ in ranked[len(pool) :]]
    ranked = focused(ranked, focus)
    hint = question_dates(question)
    if hint:
        ranked = sorted(
            ((c, score * (1 + date_boost(hint, c.date))) for c, score in ranked),
            key=lambda item: -item[1],
        )
    return ranked[:k]


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
        k = int(kwargs.get("k", self.k))  # `invoke(query, k=1)`, as LangChain's retrievers take it
        return [to_document(c, s) for c, s in self.search(query, k)]
