"""Files into the store, idempotently: unchanged articles are skipped, changed ones replaced.

The article's content hash, kept in Chroma next to the article, is the record
of what was indexed, so the store and its bookkeeping cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from rag.errors import IngestError
from vectorstore.chunking import fit_sentences, pack_chunks, paragraph_starts
from vectorstore.documents import Article, Chunk
from vectorstore.duplicates import (
    DuplicateIndex,
    article_keys,
    decode_signature,
    encode_signature,
)
from vectorstore.loaders import (
    articles_from_bytes,
    doc_id_for,
    find_article_files,
    read_articles,
    safe_upload_name,
)
from vectorstore.records import PENDING
from vectorstore.sentence_vectors import chunk_sentences, split_rows, unit_mean
from vectorstore.sentences import sentence_spans
from vectorstore.store import ArticleWrite, ChromaStore

BATCH_CHUNKS = 512  # chunks embedded per model call and written per store round (README)


class ChunkEncoder(Protocol):
    """What ingestion needs from the embedding model."""

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Duplicate:
    """An article not indexed because the store already holds the same story."""

    doc_id: str
    source: str
    of: str  # the stored (or earlier in the batch) article it duplicates
    similarity: float  # 1.0 for identical text


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[IngestError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)

    @property
    def failed(self) -> bool:
        """True when some file or part of a file could not be ingested."""
        return bool(self.skipped)

    def summary(self) -> str:
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped"
        )
        if self.duplicates:
            line += f", {len(self.duplicates)} duplicates not indexed"
        return line

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the documents API returns it)."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": [
                {"doc_id": d.doc_id, "source": d.source, "of": d.of, "similarity": d.similarity}
                for d in self.duplicates
            ],
            "skipped": [
                {"source": e.source, "problem": e.problem, "kind": e.kind} for e in self.skipped
            ],
            "summary": self.summary(),
        }


# A chunk ends at a paragraph once it holds this many word pieces (measured: README).
PARAGRAPH_MIN_TOKENS = 64


def chunk_article(
    article: Article,
    encoder: ChunkEncoder,
    max_tokens: int,
    overlap: int,
    paragraph_min: int | None = None,
) -> list[Chunk]:
    """Sentence-aligned chunks of at most `max_tokens` word pieces (capped by the model)."""
    limit = min(max_tokens, encoder.max_tokens)
    body = article.body
    spans, counts = fit_sentences(body, sentence_spans(body), limit, encoder.count_tokens)
    return [
        Chunk.of(article, i, s, e)
        for i, (s, e) in enumerate(
            pack_chunks(
                spans,
                counts,
                limit,
                overlap,
                paragraph_starts(body, spans),
                PARAGRAPH_MIN_TOKENS if paragraph_min is None else paragraph_min,
            )
        )
    ]


def duplicate_index(store: ChromaStore, records: dict[str, dict[str, Any]]) -> DuplicateIndex:
    """The stored articles' duplicate keys (computed from the body for older records)."""
    index = DuplicateIndex(store.bodies)
    keys = {
        d: (decode_signature(str(m.get("minhash", ""))), str(m.get("fingerprint", "")))
        for d, m in records.items()
    }
    older = store.bodies([d for d, (signature, fp) in keys.items() if signature is None or not fp])
    for doc_id, (signature, fp) in keys.items():
        if signature is None or not fp:
            computed = article_keys(older.get(doc_id, ""))
            signature, fp = computed.signature, computed.fingerprint
        index.add(doc_id, fp, signature)
    return index


def _progress_note(bar: Any, chunks: int, started: float) -> None:
    elapsed = max(time.perf_counter() - started, 1e-9)
    bar.set_postfix_str(f"{chunks} chunks, {chunks / elapsed:.1f} chunks/s", refresh=False)


def ingest_articles(
    articles: list[Article],
    store: ChromaStore,
    encoder: ChunkEncoder,
    max_tokens: int,
    overlap: int,
    report: IngestReport | None = None,
    progress: bool = False,
    batch_chunks: int = BATCH_CHUNKS,
    find_duplicates: bool = True,
    label: str = "ingesting",
) -> IngestReport:
    """Store parsed articles: unchanged ones are skipped, duplicates reported, the rest
    chunked and embedded in batches of about `batch_chunks` chunks (one model call per
    batch: sentence-transformers sorts a call's texts by length, so batches pad little).
    Without `find_duplicates` (a reindex of already deduplicated articles) every article
    is stored, with its duplicate keys all the same; `label` names the progress bar.
    """
    report = report or IngestReport()
    records = store.records()
    known = {d: str(m.get("content_hash", "")) for d, m in records.items()}
    duplicates = duplicate_index(store, records) if find_duplicates else None
    seen: dict[str, str] = {}
    pending: list[tuple[Article, list[Chunk], dict[str, Any]]] = []
    started, stored_chunks = time.perf_counter(), 0

    # Batch N is stored while batch N+1 is embedded: the write starts only once the next
    # batch is chunked, so chunking never waits for the GIL behind a write, and it ends
    # before the next chunking starts (measured: README, "Speed and memory").
    embedded: list[ArticleWrite] = []
    sentences: dict[str, np.ndarray] = {}  # the embedded batch's sentence vectors by chunk id

    def write(writes: list[ArticleWrite], by_chunk: dict[str, np.ndarray]) -> None:
        nonlocal stored_chunks
        store.put_articles(writes, by_chunk)
        for article, chunks, _, _ in writes:
            was_stored = known.get(article.doc_id, PENDING) != PENDING
            (report.updated if was_stored else report.added).append(article.doc_id)
            stored_chunks += len(chunks)

    def flush() -> None:
        """Embed the pending chunks' sentences while the previous batch is stored; a
        chunk's vector is the mean of its sentences' (vectorstore.sentence_vectors). A
        sentence two chunks share (the overlap) is embedded once."""
        nonlocal embedded, sentences
        texts = [chunk_sentences(c.text) for _, chunks, _ in pending for c in chunks]
        unique = {t: n for n, t in enumerate(dict.fromkeys(t for ts in texts for t in ts))}
        writing = writer.submit(write, embedded, sentences) if embedded else None
        rows = np.asarray(encoder.embed_documents(list(unique)), np.float32)
        if writing is not None:
            writing.result()  # one write in flight, in order; its error stops the ingest
        rows = rows[[unique[t] for ts in texts for t in ts]]
        per_chunk = iter(split_rows(rows, [len(ts) for ts in texts]))
        embedded, sentences = [], {}
        for article, chunks, extra in pending:
            vectors = []
            for chunk in chunks:
                sentences[chunk.chunk_id] = next(per_chunk)
                vectors.append(unit_mean(sentences[chunk.chunk_id]).tolist())
            embedded.append((article, chunks, vectors, extra))
        pending.clear()

    with (
        tqdm(total=len(articles), desc=label, unit="article", disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsrag-store") as writer,
    ):
        for article in articles:
            bar.update(1)
            if article.doc_id in seen:
                report.skipped.append(
                    IngestError(
                        article.source,
                        f"same article id {article.doc_id!r} as in {seen[article.doc_id]}: "
                        "rename one of the files (or change the JSONL 'id')",
                    )
                )
                continue
            seen[article.doc_id] = article.source
            if known.get(article.doc_id) == article.content_hash:
                report.unchanged.append(article.doc_id)
                continue
            keys = article_keys(article.body)
            fp, signature = keys.fingerprint, keys.signature
            if duplicates is not None:
                if article.doc_id not in known:  # an update of a stored article is not a copy
                    copy = duplicates.find(article.doc_id, fp, signature, keys.shingles)
                    if copy is not None:
                        report.duplicates.append(
                            Duplicate(article.doc_id, article.source, copy[0], copy[1])
                        )
                        continue
                duplicates.add(article.doc_id, fp, signature, keys.shingles)
            chunks = chunk_article(article, encoder, max_tokens, overlap)
            extra = {"fingerprint": fp, "minhash": encode_signature(signature)}
            pending.append((article, chunks, extra))
            if sum(len(c) for _, c, _ in pending) >= batch_chunks:
                flush()
                _progress_note(bar, stored_chunks, started)
        if pending:
            flush()
        if embedded:
            write(embedded, sentences)
        _progress_note(bar, stored_chunks, started)
    return report


def ingest_paths(
    paths: list[Path],
    store: ChromaStore,
    encoder: ChunkEncoder,
    max_tokens: int,
    overlap: int,
    max_file_bytes: int,
    progress: bool = False,
    batch_chunks: int = BATCH_CHUNKS,
) -> IngestReport:
    """Read files and folders, skip (and report) what cannot be read, store the rest."""
    files, problems = find_article_files(paths)
    report = IngestReport(skipped=list(problems))
    articles: list[Article] = []
    for path in files:
        try:
            found, problems = read_articles(path, max_file_bytes)
        except IngestError as exc:
            report.skipped.append(exc)
            continue
        articles.extend(found)
        report.skipped.extend(problems)
    return ingest_articles(
        articles, store, encoder, max_tokens, overlap, report, progress, batch_chunks
    )


def ingest_upload(
    filename: str,
    data: bytes,
    store: ChromaStore,
    encoder: ChunkEncoder,
    max_tokens: int,
    overlap: int,
    max_file_bytes: int,
) -> IngestReport:
    """Store an uploaded file's articles; its name is sanitised and never opened as a path."""
    report = IngestReport()
    try:
        name = safe_upload_name(filename)
        articles, problems = articles_from_bytes(data, name, max_file_bytes)
    except IngestError as exc:
        report.skipped.append(exc)
        return report
    report.skipped.extend(problems)
    return ingest_articles(articles, store, encoder, max_tokens, overlap, report)


def removal_targets(store: ChromaStore, doc_id_or_path: str) -> list[str]:
    """The stored articles that `newsrag remove X` means: the id X, else those read from file X."""
    target = doc_id_or_path.strip()
    if not target:
        return []
    if store.has_article(target):
        return [target]
    name = Path(target).name
    from_file = store.doc_ids_from_source(name)
    if from_file:
        return from_file
    by_stem = doc_id_for(Path(name))
    return [by_stem] if store.has_article(by_stem) else []
