"""The lexical corpus kept in step with Chroma, and saved next to the store.

Chroma is the source of truth. Each article record carries its content hash (set only
once all of its chunks are written: vectorstore.store) and its chunk count; that pair
is the article's *version*. `sync` compares the versions in the corpus with those in
the store and changes only what differs: articles removed, changed or being rewritten
are dropped, and new or changed complete ones are read (their chunks only) and added
as a new segment. The same comparison repairs a saved corpus at start-up after a crash
or another process's writes, and keeps several processes on one Chroma server in step.

A corpus is saved as its segments (written once, never changed) and a manifest naming
them with the deleted positions and the versions, replaced atomically; a restart
reads ids-free metadata and the manifest instead of every chunk (at 100,000 chunks,
reading all chunks back takes 4-17 s: README).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import rag.retrieval.corpus
import rag.retrieval.italian_forms
import rag.retrieval.lexical
import vectorstore.documents
import vectorstore.sentences
from rag.retrieval.corpus import LexicalCorpus, SentenceChunks
from rag.retrieval.lexical import LexicalIndex, Postings
from vectorstore.documents import Chunk
from vectorstore.records import PENDING, chunks_in_articles
from vectorstore.store import ChromaStore

FORMAT = "newsrag-lexical-3"
MANIFEST = "manifest.json"
KINDS = ("chunks", "sentences", "prefixes")  # the corpus's three indexes, in file names
FULL_READ = 200  # more articles to add than this, and every chunk record is read at once
LOOKBACK = 30.0  # seconds before the last check from which records are read again
FULL_CHECK = 300.0  # seconds after which every record is read again, whatever the counts
_BUILD_CODE = (
    rag.retrieval.lexical,
    rag.retrieval.italian_forms,
    rag.retrieval.corpus,
    vectorstore.sentences,
    vectorstore.documents,
)


def code_fingerprint() -> str:
    """What a saved corpus depends on: its analysis, indexes, sentences and chunk records."""
    h = hashlib.sha256(FORMAT.encode())
    for module in _BUILD_CODE:
        h.update(Path(module.__file__ or "").read_bytes())
    for package in ("PyStemmer", "numpy", "scipy"):
        h.update(f"{package}={metadata.version(package)}".encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class Indexed:
    """A corpus snapshot and the version of each article it holds; the articles the store
    was writing when it was last read, and when that was (0: never)."""

    corpus: LexicalCorpus
    versions: Mapping[str, str] = field(default_factory=dict)
    pending: frozenset[str] = frozenset()
    checked: float = 0.0

    @classmethod
    def empty(cls) -> Indexed:
        return cls(LexicalCorpus.build([]))


def store_versions(store: ChromaStore) -> tuple[dict[str, str], set[str]]:
    """Each complete article's version in the store, and the articles being written."""
    return _versions(store.records(), {}, set())


def _versions(
    records: Mapping[str, Mapping[str, Any]], versions: dict[str, str], pending: set[str]
) -> tuple[dict[str, str], set[str]]:
    """`versions` and `pending` updated with these article records."""
    for doc_id, meta in records.items():
        content_hash = str(meta.get("content_hash", ""))
        if content_hash == PENDING:
            pending.add(doc_id)
            versions.pop(doc_id, None)
        elif content_hash:
            versions[doc_id] = f"{content_hash}:{int(meta.get('chunks', 0))}"
            pending.discard(doc_id)
    return versions, pending


def recent_versions(store: ChromaStore, indexed: Indexed) -> tuple[dict[str, str], set[str]]:
    """The store's versions as `store_versions` reads them, from the records written since
    the last check (LOOKBACK seconds earlier, for clocks of other machines and writes in
    flight) when the article count agrees; else, or every FULL_CHECK seconds, from all.
    At 100,000 chunks (22,000 articles) reading every record takes ~2.5 s (bench)."""
    if not indexed.checked or time.time() - indexed.checked > FULL_CHECK:
        return store_versions(store)
    articles = store.counts()[0]
    recent = store.records_since(indexed.checked - LOOKBACK)
    versions, pending = _versions(recent, dict(indexed.versions), set(indexed.pending))
    if len(versions) + len(pending) != articles:  # deleted, or not indexed: read them all
        return store_versions(store)
    return versions, pending


def changes(
    indexed: Mapping[str, str], stored: Mapping[str, str], pending: Iterable[str] = ()
) -> tuple[set[str], set[str]]:
    """(articles to drop, articles to read and add) to bring `indexed` to `stored`. An
    article being written is dropped: its stored body may already be the new one."""
    drop = {d for d, v in indexed.items() if stored.get(d) != v} | (set(pending) & set(indexed))
    add = {d for d, v in stored.items() if indexed.get(d) != v}  # changed ones are in drop
    return drop, add


def read_chunks(store: ChromaStore, doc_ids: set[str]) -> tuple[list[Chunk], dict[str, str]]:
    """The chunks of these articles, each article whole and with its version, or left
    out (being written, or changed between the reads: the next sync takes it)."""
    if len(doc_ids) > FULL_READ:
        metas = store.chunk_records(metadata=True)[1]
        metas = [m for m in metas if m.get("doc_id") in doc_ids]
    else:
        got = store.chunks.get(where={"doc_id": {"$in": sorted(doc_ids)}}, include=["metadatas"])
        metas = [dict(m or {}) for m in got["metadatas"]]
    articles = store.get_articles(sorted(doc_ids))
    by_doc: dict[str, list[Chunk]] = {}
    broken: set[str] = set()
    for meta, chunk in zip(metas, chunks_in_articles(metas, articles), strict=True):
        if chunk is None:
            broken.add(str(meta.get("doc_id")))
        else:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
    chunks: list[Chunk] = []
    versions: dict[str, str] = {}
    for doc_id, found in sorted(by_doc.items()):
        stored = articles[doc_id]
        indexes = sorted(c.index for c in found)
        whole = indexes == list(range(stored.chunks)) and stored.content_hash != PENDING
        if whole and doc_id not in broken:
            chunks += sorted(found, key=lambda c: c.index)
            versions[doc_id] = f"{stored.content_hash}:{stored.chunks}"
    return chunks, versions


def sync(store: ChromaStore, indexed: Indexed) -> Indexed:
    """`indexed` brought in step with the store (with the same corpus when nothing changed)."""
    started = time.time()
    stored, pending = recent_versions(store, indexed)
    drop, add = changes(indexed.versions, stored, pending)
    if not drop and not add:
        return replace(indexed, pending=frozenset(pending), checked=started)
    chunks, added = read_chunks(store, add) if add else ([], {})
    corpus = indexed.corpus.removed(drop).added(chunks).tidied()
    versions = {d: v for d, v in indexed.versions.items() if d not in drop} | added
    return Indexed(corpus, versions, frozenset(pending), started)


# saving ---------------------------------------------------------------------------------
def save(indexed: Indexed, folder: Path, model: str) -> None:
    """Write the segments not yet saved, then the manifest (atomically), then remove the
    files of segments no manifest names any more. `model` is the store's embedding model:
    a reindex to another model may cut other chunks under the same ids and versions."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = indexed.corpus
    names = [s.name for s in corpus.index.segments]
    for i, name in enumerate(names):
        if not (folder / f"{name}.rows.json").exists():
            _save_segment(corpus, i, folder / name)
    manifest = {
        "format": FORMAT,
        "code": code_fingerprint(),
        "model": model,
        "segments": names,
        "live": {kind: _bits(getattr(corpus, _FIELD[kind]).live) for kind in KINDS},
        "versions": dict(indexed.versions),
    }
    _write_atomically(folder / MANIFEST, json.dumps(manifest).encode())
    keep = set(names)
    for path in folder.iterdir():
        stem = path.name.split(".")[0]
        if stem and stem not in keep and path.name != MANIFEST and not _recent(path):
            if path.is_dir():  # a corpus saved in an older format
                shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):
                path.unlink()


_FIELD = {"chunks": "index", "sentences": "sentences", "prefixes": "prefixes"}


def _save_segment(corpus: LexicalCorpus, i: int, path: Path) -> None:
    """Segment `i`'s postings and its chunks (rows) and sentence-to-chunk map."""
    for kind in KINDS:
        getattr(corpus, _FIELD[kind]).segments[i].save(path.with_name(f"{path.name}.{kind}"))
    a, b = corpus.index.offsets[i], corpus.index.offsets[i + 1]
    s, e = corpus.sentences.offsets[i], corpus.sentences.offsets[i + 1]
    rows = [
        [c.doc_id, c.index, c.start, c.end, c.text, c.title, c.date, c.source]
        for c in corpus.chunks[a:b]
    ]
    data = {"chunks": rows, "sentence_chunks": corpus.sentence_chunks.lists(s, e)}
    _write_atomically(path.with_name(f"{path.name}.rows.json"), json.dumps(data).encode())


def load(folder: Path, model: str) -> Indexed | None:
    """The saved corpus, or None when there is none, or it is damaged, from other code or
    of a store embedded with another model."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("code") != code_fingerprint():
            return None
        if manifest.get("model") != model:
            return None
        chunks: list[Chunk] = []
        parts: list[SentenceChunks] = []
        shared: dict[str, str] = {}  # an article's chunks share its id, title, date and source
        segments: dict[str, list[Postings]] = {kind: [] for kind in KINDS}
        for name in manifest["segments"]:
            rows = json.loads((folder / f"{name}.rows.json").read_text(encoding="utf-8"))
            chunks += [Chunk(*_shared(row, shared)) for row in rows["chunks"]]
            parts.append(SentenceChunks.of(rows["sentence_chunks"]))
            del rows
            for kind in KINDS:
                segments[kind].append(Postings.load(folder / f"{name}.{kind}", name))
        sentence_chunks = SentenceChunks.joined(parts)
        index, sentences, prefix_index = (
            LexicalIndex.of_segments(tuple(segments[kind]), _unbits(manifest["live"][kind]))
            for kind in KINDS
        )
        corpus = LexicalCorpus(
            chunks,
            index,
            sentences,
            sentence_chunks,
            np.array([c.date or "" for c in chunks], dtype="U10"),
            prefix_index,
        )
        if not (len(chunks) == index.total == prefix_index.total == len(index.live)):
            return None
        if len(sentence_chunks) != sentences.total:
            return None
        return Indexed(corpus, dict(manifest["versions"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _shared(row: list[Any], shared: dict[str, str]) -> list[Any]:
    """A saved chunk's row with one string object per distinct id, title, date and source
    (JSON gives each row its own: 100k chunks of 22k articles)."""
    for i in (0, 5, 6, 7):
        if isinstance(row[i], str):
            row[i] = shared.setdefault(row[i], row[i])
    return row


def forget(folder: Path) -> None:
    """Remove the saved corpus (a reindex may keep chunk ids with other chunks)."""
    with contextlib.suppress(OSError):
        (folder / MANIFEST).unlink()


def _bits(live: np.ndarray) -> dict[str, Any]:
    return {"n": len(live), "bits": base64.b64encode(np.packbits(live).tobytes()).decode()}


def _unbits(saved: Mapping[str, Any]) -> np.ndarray:
    packed = np.frombuffer(base64.b64decode(saved["bits"]), dtype=np.uint8)
    return np.unpackbits(packed)[: int(saved["n"])].astype(bool)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _recent(path: Path, seconds: float = 600.0) -> bool:
    """True for a file another process may have just written (and may name soon)."""
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return True
