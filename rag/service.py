"""`NewsQA`: the one service object behind the CLI, the API, the UI and the evaluation.

Built from settings once per process; the constructor does no I/O. The model
loads, the store opens and the lexical index builds on first use (or in
`warm_up`, which servers call before they accept requests).

Writes (ingest, upload, delete, reindex) run one at a time; questions never wait for
them: they read the last lexical snapshot (rag.retrieval.live_lexical), and Chroma
shows an article's chunks only once it is completely written (vectorstore.store).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from rag.answering.extractive import Answer, question_terms
from rag.answering.language import detect_language
from rag.answering.quoting import ANSWER_CHUNKS, SentenceAnswerer
from rag.answering.state import Query, Retrieved, checked_query
from rag.answering.streaming import (
    Answerer,
    Evidence,
    ExtractiveAnswerer,
    StreamEvent,
    final_answer,
)
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.dates import in_range
from rag.retrieval.dense import DenseScorer
from rag.retrieval.focus import Quote, changes_topic, previous_quotes
from rag.retrieval.hybrid import (
    DateRange,
    NewsRetriever,
    conversation_queries,
    from_document,
    hybrid_search,
    is_elliptical,
    to_document,
)
from rag.retrieval.lexical_store import forget
from rag.retrieval.live_lexical import LiveLexical
from rag.retrieval.passages import passages
from rag.retrieval.rerank import shipped_model
from rag.settings import Settings
from vectorstore.clients import client_factory
from vectorstore.documents import Article, Chunk, DocumentInfo
from vectorstore.embeddings import LocalEmbedder, model_folder
from vectorstore.ingest import (
    IngestReport,
    ingest_articles,
    ingest_paths,
    ingest_upload,
    removal_targets,
)
from vectorstore.records import store_identity
from vectorstore.reindex import ReindexReport
from vectorstore.reindex import reindex as reindex_store
from vectorstore.store import ChromaStore


def embedder_from_settings(settings: Settings) -> LocalEmbedder:
    """The configured model on the configured backend (loaded on first use)."""
    return LocalEmbedder(
        model_folder(settings.embedding_model, settings.model_cache_dir),
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir,
    )


class NewsQA:
    """Ingest articles, retrieve evidence and answer with verified citations."""

    def __init__(
        self,
        settings: Settings,
        store: ChromaStore,
        embedder: LocalEmbedder,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.answerer: Answerer = answerer or ExtractiveAnswerer()
        self._writing = threading.RLock()  # writes run one at a time; reads never take it
        self._saved_lexical = settings.data_dir / "lexical"
        self.lexical = LiveLexical(store, self._saved_lexical, settings.lexical_refresh_seconds)
        self.dense = DenseScorer(embedder, store)
        self.quoting = SentenceAnswerer(self.dense)
        self.chain: Runnable[Query, Answer] = RunnableLambda(self._retrieve).with_config(
            run_name="retrieve"
        ) | RunnableLambda(self._respond).with_config(run_name="answer")

    @classmethod
    def from_settings(cls, settings: Settings) -> NewsQA:
        """The production wiring: the local model and an embedded Chroma under `data_dir`."""
        embedder = embedder_from_settings(settings)
        store = ChromaStore(
            client_factory(settings),
            store_identity(embedder.name),
            prefix=settings.collection_prefix,
        )
        from rag.answering.llm import answerer_from_settings  # the openai client loads only here

        answerer = answerer_from_settings(settings, embedder.embed_sentences)
        return cls(settings, store, embedder, answerer)

    def warm_up(self) -> None:
        """Load the model, open the store and build the lexical index now, not on a request:
        the model compiles in a thread (OpenVINO lets go of the GIL) while the lexical
        snapshot loads."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsrag-warm-up") as pool:
            model = pool.submit(self.embedder.embed_query, "warm up")
            self._lexical()
            model.result()

    def watch_store(self) -> None:
        """Follow other processes' writes to the same Chroma (servers call this)."""
        self.lexical.watch()

    def close(self) -> None:
        self.lexical.close()

    # ingestion -------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path], progress: bool = False) -> IngestReport:
        s = self.settings
        return self._changing_store(
            lambda: ingest_paths(
                list(paths),
                self.store,
                self.embedder,
                s.chunk_tokens,
                s.chunk_overlap,
                s.max_file_bytes,
                progress,
                s.ingest_batch,
            )
        )

    def ingest_articles(self, articles: Sequence[Article], progress: bool = False) -> IngestReport:
        s = self.settings
        return self._changing_store(
            lambda: ingest_articles(
                list(articles),
                self.store,
                self.embedder,
                s.chunk_tokens,
                s.chunk_overlap,
                progress=progress,
                batch_chunks=s.ingest_batch,
            )
        )

    def delete(self, doc_id: str) -> bool:
        """Remove an article and all of its chunks; False when there was no such article."""
        with self._writing:
            deleted = self.store.delete_article(doc_id)
            if deleted:
                self.lexical.refresh()
        return deleted

    def reindex(self, progress: bool = False) -> ReindexReport:
        """Re-embed every stored article with the configured model and switch the store to
        it; an interrupted run is resumed by the next (protocol: vectorstore.reindex)."""
        s = self.settings
        with self._writing:
            report = reindex_store(
                self.store,
                self.embedder,
                s.chunk_tokens,
                s.chunk_overlap,
                s.ingest_batch,
                progress,
                before_switch=lambda: forget(self._saved_lexical),  # chunk ids keep their names
            )
            if report.switched:
                self.lexical.reset()  # and one an old process may have saved meanwhile
                self.lexical.refresh()
        return report

    # documents -------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """Every stored article's id, title, date, source, URL and chunk count."""
        return self.store.documents()

    def article(self, doc_id: str) -> Article | None:
        """The stored article (its body is what citation offsets refer to), or None."""
        stored = self.store.get_articles([doc_id]).get(doc_id)
        return stored.article if stored else None

    def add_upload(self, filename: str, data: bytes) -> IngestReport:
        """Ingest an uploaded file; `filename` only labels it (type, doc id), it is never a path."""
        s = self.settings
        return self._changing_store(
            lambda: ingest_upload(
                filename,
                data,
                self.store,
                self.embedder,
                s.chunk_tokens,
                s.chunk_overlap,
                s.max_file_bytes,
            )
        )

    def remove(self, doc_id_or_path: str) -> bool:
        """Delete every chunk of an article (by id, or all articles read from a file)."""
        with self._writing:
            removed = [d for d in removal_targets(self.store, doc_id_or_path) if self.delete(d)]
        return bool(removed)

    def _changing_store(self, ingest: Callable[[], IngestReport]) -> IngestReport:
        """Run an ingestion alone (questions go on meanwhile), and bring the lexical
        snapshot in step before returning, so what it added is answerable."""
        with self._writing:
            report = ingest()
            if report.changed:
                self.lexical.refresh()
        return report

    def is_empty(self) -> bool:
        return self.store.counts()[0] == 0

    def health(self) -> dict[str, Any]:
        documents, chunks = self.store.counts()
        return {"status": "ok", "documents": documents, "chunks": chunks}

    # retrieval -------------------------------------------------------------------------
    def _lexical(self) -> LexicalCorpus:
        """The current BM25 snapshot (never waits for a write in progress)."""
        return self.lexical.snapshot()

    def search(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] = (),
        k: int = 4,
        corpus: LexicalCorpus | None = None,
        dates: DateRange = (None, None),
    ) -> list[tuple[Chunk, float]]:
        """The `k` best passages for a question in its conversation, within `dates` if set:
        the best chunks, each widened with its neighbouring sentences (rag.retrieval.passages)."""
        return self._search(question, history, k, corpus, dates)[0]

    def _search(
        self,
        question: str,
        history: Sequence[Mapping[str, str]],
        k: int,
        corpus: LexicalCorpus | None,
        dates: DateRange,
    ) -> tuple[list[tuple[Chunk, float]], dict[str, str], dict[str, float], tuple[Quote, ...]]:
        """The passages, the bodies of their articles (read once for passages and
        citations), the question's weighted terms (for the re-ranker and the answer) and,
        for a follow-up on the same topic, the previous answer's quotes."""
        s = self.settings
        corpus = corpus or self._lexical()
        terms = question_terms(question, history, corpus.index)
        # A question in another language matches Italian BM25 only through names and by
        # accident: the dense list leads (measured on the multilingual tuning set).
        italian = s.dense_weight <= 0 or detect_language(question) == "it"
        weight = s.dense_weight if italian else s.foreign_dense_weight
        # The conversation's articles, within the dates asked for: a quote of an article now out
        # of range must not bring its sentences back.
        quotes = [q for q in previous_quotes(history, corpus) if in_range(q.chunk.date, *dates)]
        focus = {q.chunk.doc_id for q in quotes}
        own_words = italian and not is_elliptical(question)
        if changes_topic(question, history, corpus, focus, own_words):
            quotes, focus = [], set()
        reranker = shipped_model() if s.rerank else None
        # The re-ranker's dense features read the cosines of the model it was fitted with
        # (e5's sit in 0.75-0.9, MiniLM's far lower): over another model's store, none.
        cosines = (
            self.dense.candidate_cosines
            if weight > 0 and reranker is not None and reranker.reads(self.store.embedding_model)
            else None
        )
        ranked = hybrid_search(
            conversation_queries(question, [dict(m) for m in history]),
            corpus,
            self.dense.search if weight > 0 else None,
            2 * k,  # spare chunks for those a better passage already shows
            s.candidates,
            weight,
            dates,
            reranker,
            terms,
            cosines,
            focus,
        )
        bodies = self._bodies({c.doc_id for c, _ in ranked})
        return passages(ranked, bodies, k), bodies, terms, tuple(quotes)

    def _bodies(self, doc_ids: Iterable[str]) -> dict[str, str]:
        return self.store.bodies(sorted(doc_ids))

    def as_retriever(self, k: int = 4) -> NewsRetriever:
        return NewsRetriever(search=lambda q, n: self.search(q, (), n), k=k)

    # answering -------------------------------------------------------------------------
    def _retrieve(self, query: Query) -> Retrieved:
        k = max(query.top_k, ANSWER_CHUNKS)
        corpus = self._lexical()
        found = self._search(query.question, query.history, k, corpus, query.dates)
        ranked, bodies, terms, quotes = found
        documents = [to_document(c, s) for c, s in ranked]
        return Retrieved(query, corpus, documents, bodies, terms, quotes)

    def _events(self, state: Retrieved) -> Iterator[StreamEvent]:
        """The configured answerer's events for retrieved evidence (extractive by default)."""
        ranked = [(from_document(d), float(d.metadata["score"])) for d in state.documents]

        def bodies(doc_ids: Iterable[str]) -> dict[str, str]:
            return self._bodies_for(state, doc_ids)

        return self.answerer.stream(
            Evidence(
                question=state.query.question,
                history=state.query.history,
                ranked=ranked,
                top_k=state.query.top_k,
                extractive=lambda: self.quoting.answer(state, self.settings, bodies),
                bodies=bodies,
                idf=state.corpus.index.idf,
            )
        )

    def _bodies_for(self, state: Retrieved, doc_ids: Iterable[str]) -> dict[str, str]:
        """Bodies of `doc_ids`, as read with the evidence (its offsets refer to them)."""
        known = state.bodies
        wanted = set(doc_ids)
        missing = wanted - known.keys()
        return {d: known[d] for d in wanted & known.keys()} | (
            self._bodies(missing) if missing else {}
        )

    def _respond(self, state: Retrieved) -> Answer:
        return final_answer(self._events(state))

    def ask(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] = (),
        top_k: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> Answer:
        """Answer `question` (in the conversation `history`) with verbatim, cited sentences,
        from articles dated between `date_from` and `date_to` when they are given."""
        return self.chain.invoke(self._request(question, history, top_k, date_from, date_to))

    def ask_stream(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] = (),
        top_k: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> Iterator[StreamEvent]:
        """Like `ask`, as events: text deltas, then one `FinalAnswer` (see rag.answering.streaming).

        Input is checked and evidence retrieved before this returns, so bad input raises
        here, not in the middle of a stream.
        """
        request = self._request(question, history, top_k, date_from, date_to)
        return self._events(self._retrieve(request))

    def _request(
        self,
        question: str,
        history: Sequence[Mapping[str, str]],
        top_k: int | None,
        date_from: dt.date | None,
        date_to: dt.date | None,
    ) -> Query:
        s = self.settings
        return checked_query(
            question, history, top_k or s.top_k, date_from, date_to, s.max_question_chars
        )
