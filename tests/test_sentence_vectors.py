"""Sentence vectors kept with each chunk: the codec, the chunk score, and the real path
(ingest stores them, retrieval scores with them, the answerer reads them, an older store
is refused until `newsrag reindex` rewrites it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.errors import ModelMismatchError
from rag.retrieval.dense import chunk_score
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEED_FILES, SEEDS, make_service
from tests.test_answers import assert_citations_verbatim
from vectorstore.clients import chroma_client
from vectorstore.embeddings import LocalEmbedder
from vectorstore.ingest import chunk_article
from vectorstore.loaders import MAX_FILE_BYTES, read_article
from vectorstore.records import store_identity
from vectorstore.sentence_vectors import (
    SENTENCES,
    chunk_sentences,
    decode_rows,
    encode_rows,
    split_rows,
    unit_mean,
)
from vectorstore.store import ChromaStore

KREMLIN_QUESTION = "Chi è il portavoce del Cremlino?"


def test_rows_survive_the_int8_codec_within_half_a_step() -> None:
    rows = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[2] = 0.0  # a zero row stays zero (its scale is not 0)
    back = decode_rows(encode_rows(rows), 384)
    assert back is not None and back.shape == rows.shape
    step = np.abs(rows).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(back - rows) <= step / 2 + 1e-7)
    assert len(encode_rows(rows)) == 4 * ((5 * 388 + 2) // 3)  # base64 of 5 x (4 + 384) bytes


@pytest.mark.parametrize(
    "text, dimensions",
    [("", 384), ("not base64!", 384), (encode_rows(np.ones((2, 8))), 384), ("àè", 8)],
)
def test_a_blob_of_another_format_decodes_to_none(text: str, dimensions: int) -> None:
    assert decode_rows(text, dimensions) is None


def test_unit_mean_split_and_chunk_sentences() -> None:
    assert unit_mean(np.array([[3.0, 0.0], [0.0, 4.0]])).tolist() == pytest.approx([0.6, 0.8])
    assert unit_mean(np.zeros((2, 3))).tolist() == [0.0, 0.0, 0.0]
    parts = split_rows(np.arange(10).reshape(5, 2), [2, 0, 3])
    assert [p.shape[0] for p in parts] == [2, 0, 3] and parts[2][0].tolist() == [4, 5]
    assert chunk_sentences("Putin ha parlato a lungo. Kim ha ascoltato tutto.") == [
        "Putin ha parlato a lungo.",
        "Kim ha ascoltato tutto.",
    ]
    assert chunk_sentences("senza fine e") == ["senza fine e"]


def test_chunk_score_is_the_mean_of_the_vector_and_the_best_sentence() -> None:
    assert chunk_score(0.5, np.array([0.9, 0.1])) == pytest.approx(0.7)
    assert chunk_score(0.5, None) == 0.5
    assert chunk_score(0.5, np.zeros(0)) == 0.5


class CountingEncoder:
    """The real model, counting the sentences the answerer has embedded on demand."""

    def __init__(self, model: LocalEmbedder) -> None:
        self.model = model
        self.sentences = 0

    def embed_sentences(self, texts: list[str]) -> list[list[float]]:
        self.sentences += len(texts)
        return self.model.embed_sentences(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


@pytest.mark.integration
def test_ingest_stores_each_chunks_sentence_vectors_and_answers_read_them(
    service: NewsQA, embedder: LocalEmbedder
) -> None:
    service.ingest([SEEDS])
    chunks = service.store.all_chunks()
    stored = service.store.chunk_vectors(chunks)
    sample = [(c, s) for c, s in zip(chunks, stored, strict=True) if s is not None][::4]
    assert len(sample) >= 3 and all(s is not None for s in stored)
    for chunk, vectors in sample:
        sentences = chunk_sentences(chunk.text)
        assert vectors.sentences is not None and len(vectors.sentences) == len(sentences)
        fresh = np.asarray(embedder.embed_documents(sentences), dtype=np.float32)
        agreement = np.sum(fresh * vectors.sentences, axis=1) / np.linalg.norm(
            vectors.sentences, axis=1
        )
        assert agreement.min() > 0.999  # int8 rows of each sentence embedded alone
        assert vectors.chunk == pytest.approx(unit_mean(fresh), abs=2e-3)
    query = np.asarray(embedder.embed_query(KREMLIN_QUESTION), dtype=np.float32)
    got = service.dense.chunk_cosines(KREMLIN_QUESTION, [c for c, _ in sample])
    expected = [chunk_score(float(v.chunk @ query), v.sentences @ query) for _, v in sample]
    assert got == pytest.approx(expected, abs=1e-5)
    # what the re-ranker reads of each chunk: the same score, its vector's cosine and each
    # of its sentences' by their text
    parts = service.dense.candidate_cosines(KREMLIN_QUESTION, [c for c, _ in sample])
    assert [p.score for p in parts] == pytest.approx(expected, abs=1e-5)
    for p, (chunk, vectors) in zip(parts, sample, strict=True):
        assert p.chunk == pytest.approx(float(vectors.chunk @ query), abs=1e-5)
        assert [text for text, _ in p.sentences] == chunk_sentences(chunk.text)
        assert [cos for _, cos in p.sentences] == pytest.approx(
            (vectors.sentences @ query).tolist(), abs=1e-5
        )
    best = service.dense.search(KREMLIN_QUESTION, 3)
    assert best[0][0].doc_id == KREMLIN_DOC and [s for _, s in best] == sorted(
        (s for _, s in best), reverse=True
    )

    counting = CountingEncoder(embedder)
    service.dense.embedder = counting  # type: ignore[assignment]
    answer = service.ask(KREMLIN_QUESTION)
    assert "Peskov" in answer.answer
    assert_citations_verbatim(service, answer)
    assert counting.sentences <= 4  # at most a passage's edge sentences, cut in its chunk


@pytest.mark.integration
def test_a_store_written_without_sentence_vectors_asks_for_reindex(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    """A store of an earlier newsrag (the model's name alone, chunk texts' vectors, no
    sentence vectors): refused with the command that fixes it, which rewrites it whole."""
    data = tmp_path / "data"
    old = ChromaStore(lambda: chroma_client(data), embedder.name)
    settings = make_service(data, embedder).settings
    for path in SEED_FILES:
        article = read_article(path, MAX_FILE_BYTES)
        chunks = chunk_article(article, embedder, settings.chunk_tokens, settings.chunk_overlap)
        old.put_article(article, chunks, embedder.embed_documents([c.text for c in chunks]))
    before = old.all_chunks()
    assert all(s is not None and s.sentences is None for s in old.chunk_vectors(before))
    new = make_service(data, embedder)
    with pytest.raises(ModelMismatchError, match=r"earlier newsrag.*run `newsrag reindex`"):
        new.ask(KREMLIN_QUESTION)
    report = new.reindex()
    assert report.switched and report.to_model == store_identity(embedder.name)
    assert new.store.all_chunks() == before  # the same chunks, now with their sentences
    assert all(s is not None and s.sentences is not None for s in new.store.chunk_vectors(before))
    assert SENTENCES not in new.store.chunk_records()[1][0]  # whole reads leave them out
    assert "Peskov" in new.ask(KREMLIN_QUESTION).answer
