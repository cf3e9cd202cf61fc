"""The lexical corpus saved next to the store, so a restart loads it instead of rebuilding.

Building the BM25 indexes re-analyses every chunk and sentence: minutes at 100,000
chunks, far over the cold-start budget. A saved corpus is named by a fingerprint of
everything it is built from (every chunk's text and metadata, and the code and
library versions that analyse and index them), so it is used only for exactly the
chunks the store holds now: after any ingest, update or delete, by this process or
another, the fingerprint differs and the corpus is rebuilt (and saved again).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

import rag.lexical
import rag.retrieval
import vectorstore.sentences
from rag.lexical import LexicalIndex
from rag.retrieval import LexicalCorpus
from vectorstore.documents import Chunk

FORMAT = "newsrag-lexical-1"
_BUILD_CODE = (rag.lexical, rag.retrieval, vectorstore.sentences)  # what a corpus depends on


def _code_fingerprint() -> bytes:
    h = hashlib.sha256(FORMAT.encode())
    for module in _BUILD_CODE:
        h.update(Path(module.__file__ or "").read_bytes())
    for package in ("bm25s", "PyStemmer", "numpy"):
        h.update(f"{package}={metadata.version(package)}".encode())
    return h.digest()


def fingerprint(chunks: Sequence[Chunk]) -> str:
    """A name for the corpus of exactly these chunks (in this order), built by this code."""
    h = hashlib.sha256(_code_fingerprint())
    for c in chunks:
        fields = (c.doc_id, str(c.index), str(c.start), str(c.end), c.title, c.date or "")
        h.update("\x00".join((*fields, c.source, c.text, "\x01")).encode("utf-8"))
    return h.hexdigest()[:32]


def save_corpus(corpus: LexicalCorpus, folder: Path) -> None:
    """Write the corpus's indexes into `folder` (everything but the chunks themselves)."""
    corpus.index.save(_made(folder / "chunks"))
    corpus.sentences.save(_made(folder / "sentences"))
    lengths = np.array([len(p) for p in corpus.sentence_chunks], dtype=np.int64)
    flat = [p for positions in corpus.sentence_chunks for p in positions]
    np.save(folder / "sentence_chunk_counts.npy", lengths)
    np.save(folder / "sentence_chunks.npy", np.array(flat, dtype=np.int64))


def load_corpus(folder: Path, chunks: list[Chunk]) -> LexicalCorpus:
    """The corpus `save_corpus` wrote for these `chunks`."""
    lengths = np.load(folder / "sentence_chunk_counts.npy")
    flat = np.load(folder / "sentence_chunks.npy").tolist()
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return LexicalCorpus(
        chunks,
        LexicalIndex.load(folder / "chunks"),
        LexicalIndex.load(folder / "sentences"),
        [flat[a:b] for a, b in itertools.pairwise(bounds)],
        np.array([c.date or "" for c in chunks], dtype="U10"),
    )


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_or_build(chunks: list[Chunk], folder: Path) -> LexicalCorpus:
    """The corpus of `chunks`: loaded from `folder` when saved for exactly these chunks,
    else built and saved there (replacing corpora of older states of the store)."""
    if not chunks:
        return LexicalCorpus.build(chunks)
    key = fingerprint(chunks)
    saved = folder / key
    if saved.is_dir():
        try:
            return load_corpus(saved, chunks)
        except (OSError, ValueError, KeyError):
            shutil.rmtree(saved, ignore_errors=True)  # damaged: rebuild it below
    corpus = LexicalCorpus.build(chunks)
    with contextlib.suppress(OSError):  # a read-only or full disk costs a rebuild, no more
        _save_as(corpus, folder, key)
    return corpus


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
