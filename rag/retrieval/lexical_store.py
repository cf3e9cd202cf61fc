"""The lexical corpus saved next to the store, so a restart loads it instead of rebuilding.

At 100,000 chunks, reading every chunk back from Chroma takes 4-17 s and building the
BM25 indexes 35-110 s (README): far over the cold-start budget. So the
chunks and their indexes are saved under a name that is a fingerprint of the chunk
ids in the store (ids carry the article's content hash, so they change whenever an
article is added, updated or deleted) and of the code that builds a corpus. Reading
the ids takes well under a second; a corpus is loaded only when saved for exactly
those ids, else it is rebuilt from Chroma and saved again. Deleting an article
forgets every saved corpus first (`forget`): the same article re-ingested later with
other chunk settings would bring back the same ids with other chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import rag.retrieval.hybrid
import rag.retrieval.lexical
import vectorstore.documents
import vectorstore.sentences
import vectorstore.store
from rag.retrieval.hybrid import LexicalCorpus
from rag.retrieval.lexical import LexicalIndex
from vectorstore.documents import Chunk
from vectorstore.store import ChromaStore

FORMAT = "newsrag-lexical-2"
# What a saved corpus depends on: its analysis, indexes, sentences and chunk records.
_BUILD_CODE = (
    rag.retrieval.lexical,
    rag.retrieval.hybrid,
    vectorstore.sentences,
    vectorstore.documents,
    vectorstore.store,
)


def _code_fingerprint() -> bytes:
    h = hashlib.sha256(FORMAT.encode())
    for module in _BUILD_CODE:
        h.update(Path(module.__file__ or "").read_bytes())
    for package in ("bm25s", "PyStemmer", "numpy"):
        h.update(f"{package}={metadata.version(package)}".encode())
    return h.digest()


def fingerprint(ids: Iterable[str]) -> str:
    """A name for the corpus of the chunks with these Chroma ids, built by this code."""
    h = hashlib.sha256(_code_fingerprint())
    h.update("\n".join(sorted(ids)).encode("utf-8"))
    return h.hexdigest()[:32]


def _records(store: ChromaStore, metadata: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """Every chunk's id and metadata (if asked); read again if the store changed meanwhile."""
    for _ in range(5):
        before = store.counts()
        ids, metadatas = store.chunk_records(metadata)
        if store.counts() == before and len(set(ids)) == before[1] == len(ids):
            return ids, metadatas
    raise OSError("the store kept changing while its chunks were read")


def stored_ids(store: ChromaStore) -> list[str]:
    return _records(store, metadata=False)[0]


def stored_chunks(store: ChromaStore) -> tuple[list[str], list[Chunk]]:
    """Chunk ids and chunks, in article and position order (as `store.all_chunks`); a
    chunk of an article changed meanwhile is left out (and its id, so the corpus is not
    saved under the name of the store's next state)."""
    records = store.chunks_of(*_records(store, metadata=True))
    return [i for i, _ in records], [c for _, c in records]


def save_corpus(corpus: LexicalCorpus, folder: Path) -> None:
    """Write the corpus's chunks and indexes into `folder`."""
    rows = [
        [c.doc_id, c.index, c.start, c.end, c.text, c.title, c.date, c.source]
        for c in corpus.chunks
    ]
    (folder / "chunks.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    corpus.index.save(_made(folder / "chunks"))
    corpus.sentences.save(_made(folder / "sentences"))
    corpus.prefixes.save(_made(folder / "prefixes"))
    lengths = np.array([len(p) for p in corpus.sentence_chunks], dtype=np.int64)
    flat = [p for positions in corpus.sentence_chunks for p in positions]
    np.save(folder / "sentence_chunk_counts.npy", lengths)
    np.save(folder / "sentence_chunks.npy", np.array(flat, dtype=np.int64))


def load_corpus(folder: Path) -> LexicalCorpus:
    """The corpus `save_corpus` wrote."""
    rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
    chunks = [Chunk(*row) for row in rows]
    lengths = np.load(folder / "sentence_chunk_counts.npy")
    flat = np.load(folder / "sentence_chunks.npy").tolist()
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return LexicalCorpus(
        chunks,
        LexicalIndex.load(folder / "chunks"),
        LexicalIndex.load(folder / "sentences"),
        [flat[a:b] for a, b in itertools.pairwise(bounds)],
        np.array([c.date or "" for c in chunks], dtype="U10"),
        LexicalIndex.load(folder / "prefixes"),
    )


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_or_build(store: ChromaStore, folder: Path) -> LexicalCorpus:
    """The corpus of the chunks in `store`: loaded from `folder` when saved for exactly
    these chunks, else built and saved there (replacing corpora of older states)."""
    saved = folder / fingerprint(stored_ids(store))
    if saved.is_dir():
        try:
            return load_corpus(saved)
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(saved, ignore_errors=True)  # damaged: rebuild it below
    ids, chunks = stored_chunks(store)
    corpus = LexicalCorpus.build(chunks)
    if chunks:
        with contextlib.suppress(OSError):  # a read-only or full disk costs a rebuild, no more
            _save_as(corpus, folder, fingerprint(ids))
    return corpus


def forget(folder: Path) -> None:
    """Remove every saved corpus (before deleting from the store)."""
    if folder.is_dir():
        for saved in folder.iterdir():
            if not saved.name.startswith(".tmp-"):
                shutil.rmtree(saved, ignore_errors=True)


def _save_as(corpus: LexicalCorpus, folder: Path, key: str) -> None:
    """Write into a temporary folder and rename it into place, so readers never see half a
    corpus; then remove the corpora (and abandoned temporary folders) of other states."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        save_corpus(corpus, tmp)
        os.rename(tmp, folder / key)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # or another process saved the same corpus
        if not (folder / key).is_dir():
            raise
    for other in folder.iterdir():
        if other.name != key and not (other.name.startswith(".tmp-") and _recent(other)):
            shutil.rmtree(other, ignore_errors=True)


def _recent(path: Path, seconds: float = 3600.0) -> bool:
    """True for a temporary folder another process may still be writing."""
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False
