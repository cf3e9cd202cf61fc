"""`newsrag reindex`: re-embed the stored articles with the configured model, resumably.

A store records the embedding model its vectors were made with; opened with another
one it refuses (`ModelMismatchError`). The reindex needs no source files: the article
records in Chroma hold every body and its metadata. For a collection prefix P:

1. Build. The live articles (`P_articles`) are chunked with the configured model's
   tokenizer and window and written into staging collections, `P__reindex_chunks` and
   `P__reindex_articles` (metadata `embedding_model` = the new model), by the ingest code
   (`ingest_articles`): the same chunks, chunk ids and duplicate keys as a clean ingest,
   and the same write protocol (`ChromaStore.put_articles`: a record is *pending* until
   all of its chunks are written). The live collections are only read, so the old
   configuration keeps answering from them (and may even ingest) until the switch.
2. Resume. A run killed at any point (Ctrl-C, SIGKILL) leaves a partial staging; the
   next run reopens it, skips every article staged with the live article's content hash,
   redoes pending and changed ones, and deletes staged articles no longer live. A
   staging built for another model is dropped.
3. Check. The staging must hold exactly the live articles, each with its hash, and
   exactly the chunks its records count; if the live store changed meanwhile, step 1
   runs again for the difference.
4. Switch (vectorstore.switch): `P_chunks` -> `P__old_chunks` is the commit point;
   then `P_articles` -> `P__old_articles`, the staging collections take the live names,
   and the old ones are deleted. Every `ChromaStore` (and every reindex) first finishes
   a switch that a crash interrupted, reading the next step from which collections
   exist. Before the commit the old store is whole and the new one is staging; after
   it, the new one is the store.

The saved BM25 index is keyed by chunk ids, which do not name the model, so the caller
forgets it just before the commit (`before_switch`) and again after the switch.
Processes still serving the old model must be restarted with the new configuration
(the old collections they hold are deleted by the switch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.errors import ModelMismatchError, StoreError
from vectorstore import switch
from vectorstore.ingest import BATCH_CHUNKS, ChunkEncoder, ingest_articles
from vectorstore.records import PENDING
from vectorstore.store import ChromaStore

_ROUNDS = 3  # builds before giving up on a live store that keeps changing


@dataclass
class ReindexReport:
    from_model: str | None  # None when there was no store
    to_model: str
    articles: int = 0  # articles in the store after the switch
    embedded: int = 0  # chunked and embedded by this run
    resumed: int = 0  # already staged by an interrupted run
    chunks: int = 0  # chunks in the store after the switch
    seconds: float = 0.0
    switched: bool = False
    note: str = ""  # why nothing was done

    def summary(self) -> str:
        if not self.switched:
            return self.note
        resumed = f", {self.resumed} already done by an interrupted run" if self.resumed else ""
        return (
            f"reindexed {self.articles} articles from {self.from_model!r} to "
            f"{self.to_model!r}: {self.embedded} embedded{resumed}, {self.chunks} chunks, "
            f"{self.seconds:.1f} s"
        )


def stored_model(client: Any, prefix: str) -> tuple[bool, str | None]:
    """(whether the store exists, the model its chunks collection records)."""
    chunks_name, _ = switch.names(prefix)
    if not switch.existing(client, [chunks_name]):
        return False, None
    meta = client.get_collection(chunks_name, embedding_function=None).metadata
    model = (meta or {}).get("embedding_model")
    return True, str(model) if model else None


def live_hashes(store: ChromaStore) -> dict[str, str]:
    """Every article's content hash, computed from its stored text for pending records."""
    hashes = store.content_hashes()
    pending = [d for d, h in hashes.items() if h == PENDING]
    for doc_id, stored in store.get_articles(pending).items():
        hashes[doc_id] = stored.article.content_hash
    return hashes


def staging_problem(live: dict[str, str], staged: ChromaStore) -> str | None:
    """What keeps the staging from replacing the live store, or None when it is complete."""
    records = staged.records()
    hashes = {d: str(m.get("content_hash", "")) for d, m in records.items()}
    differ = sorted(d for d in live.keys() | hashes.keys() if live.get(d) != hashes.get(d))
    if differ:
        return f"{len(differ)} articles differ from the live store (first: {differ[0]})"
    counted = sum(int(m.get("chunks", 0)) for m in records.values())
    found = staged.counts()[1]
    if found != counted:
        return f"the staging holds {found} chunks, its records count {counted}"
    return None


def _drop(client: Any, collections: tuple[str, str]) -> None:
    for name in switch.existing(client, list(collections)):
        client.delete_collection(name)


def _staging(store: ChromaStore, client: Any) -> ChromaStore:
    """The staging store for the configured model; one built for another model is dropped."""
    collections = switch.names(store.prefix, switch.STAGING)
    staged = store.on_collections(collections, store.embedding_model)
    try:
        staged.counts()
    except ModelMismatchError:
        _drop(client, collections)
        staged = store.on_collections(collections, store.embedding_model)
    return staged


def reindex(
    store: ChromaStore,
    encoder: ChunkEncoder,
    max_tokens: int,
    overlap: int,
    batch_chunks: int = BATCH_CHUNKS,
    progress: bool = False,
    before_switch: Callable[[], None] = lambda: None,
) -> ReindexReport:
    """Re-embed every article of `store` with `encoder` (the model `store` is configured
    for) and switch the store to the result; safe to interrupt and run again."""
    started = time.perf_counter()
    client = store.client()
    finished = switch.finish_switch(client, store.prefix)  # one a crash interrupted
    exists, built_with = stored_model(client, store.prefix)
    target = store.embedding_model
    report = ReindexReport(built_with, target)
    staging = switch.names(store.prefix, switch.STAGING)
    live = store.on_collections(switch.names(store.prefix), built_with or target)
    if not exists or live.counts() == (0, 0):
        _drop(client, staging)
        report.note = "the store holds no articles: nothing to re-embed"
        return report
    if built_with == target:
        _drop(client, staging)  # left by a reindex to a model no longer configured
        report.note = (
            f"finished the switch to {target!r} that an interrupted reindex had begun"
            if finished
            else f"the store is already embedded with {target!r}: nothing to do"
        )
        return report

    staged = _staging(store, client)
    for round_ in range(_ROUNDS):
        articles = sorted((s.article for s in live.get_articles().values()), key=lambda a: a.doc_id)
        wanted = {a.doc_id for a in articles}
        for doc_id in sorted(set(staged.content_hashes()) - wanted):
            staged.delete_article(doc_id)  # deleted from the live store meanwhile
        done = ingest_articles(
            articles, staged, encoder, max_tokens, overlap, progress=progress,
            batch_chunks=batch_chunks, find_duplicates=False, label="re-embedding",
        )  # fmt: skip
        report.embedded += len(done.added) + len(done.updated)
        if round_ == 0:
            report.resumed = len(done.unchanged)
        problem = staging_problem(live_hashes(live), staged)
        if problem is None:
            break
    else:
        raise StoreError(
            f"the re-embedded store does not match the live one ({problem}): stop any "
            "ingest into this store and run `newsrag reindex` again (nothing was switched)"
        )
    before_switch()
    switch.commit_switch(client, store.prefix)
    store.reopen()
    report.articles, report.chunks = store.counts()
    report.switched = True
    report.seconds = time.perf_counter() - started
    return report
