"""Exact and near-duplicate detection: pure functions on SQuAD-it text, then a real store."""

from __future__ import annotations

import gzip
import json
import random
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pytest

from eval.datasets import SQUAD_IT
from rag.service import NewsQA
from tests.conftest import SEED_FILES
from vectorstore.duplicates import (
    NEAR_DUPLICATE,
    DuplicateIndex,
    article_keys,
    decode_signature,
    encode_signature,
    fingerprint,
    jaccards,
    minhash,
    shingle_hashes,
    shingles,
    words,
)
from vectorstore.ingest import chunk_article
from vectorstore.loaders import read_article


def jaccard(a: set[str], b: set[str]) -> float:
    """The definition `jaccards` computes on hashes: shared shingles over all shingles."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    data = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    return [p["context"] for entry in data["data"][:6] for p in entry["paragraphs"]]


def syndicated(text: str) -> str:
    """The same story as an agency feed reprints it: dateline, header, footer."""
    return f"(ANSA) - ROMA, 5 SET - {text}\nRiproduzione riservata © Copyright ANSA"


def edited(text: str, every: int = 10) -> str:
    """Every `every`-th word changed (a rewrite a copy editor might make)."""
    words = text.split()
    return " ".join(w + "a" if i % every == 0 else w for i, w in enumerate(words))


def test_fingerprint_ignores_case_accents_punctuation_and_spacing() -> None:
    assert fingerprint("Il Cremlino, venerdì:  «no».") == fingerprint("il cremlino venerdi no")
    assert fingerprint("Il Cremlino ha detto no.") != fingerprint("Il Cremlino ha detto sì.")


def test_words_drop_accents_and_marks_of_any_script() -> None:
    def reference(text: str) -> list[str]:  # every character looked up (slower, same words)
        plain = unicodedata.normalize("NFKD", text.casefold())
        return re.findall(r"\w+", "".join(c for c in plain if not unicodedata.combining(c)))

    assert words("Città, PERCHÉ l’Ucraina?") == ["citta", "perche", "l", "ucraina"]
    for text in ("naïve Ὀδυσσεύς café", "Łódź, Dvořák, नमस्ते", "", "…!", "plain ascii"):
        assert words(text) == reference(text)


def test_article_keys_agree_with_the_separate_functions(paragraphs: list[str]) -> None:
    for text in [*paragraphs[:20], "", "una parola"]:
        keys = article_keys(text)
        assert keys.fingerprint == fingerprint(text)
        assert (keys.signature == minhash(shingles(text))).all()
        assert (keys.shingles == shingle_hashes(shingles(text))).all()


def test_jaccards_on_hashes_equal_jaccard_on_shingles(paragraphs: list[str]) -> None:
    texts = [paragraphs[0], edited(paragraphs[0]), syndicated(paragraphs[0]), paragraphs[1], ""]
    sets = [shingles(t) for t in texts]
    hashed = [shingle_hashes(s) for s in sets]
    for query, query_hashes in zip(sets, hashed, strict=True):
        expected = [jaccard(query, other) for other in sets]
        assert jaccards(query_hashes, hashed).tolist() == pytest.approx(expected)
    assert jaccards(hashed[0], []).tolist() == []


def test_signature_round_trip_and_estimate(paragraphs: list[str]) -> None:
    a, b = shingles(paragraphs[0]), shingles(edited(paragraphs[0]))
    sig = minhash(a)
    decoded = decode_signature(encode_signature(sig))
    assert decoded is not None and (decoded == sig).all()
    assert decode_signature("zz") is None
    estimate = float((minhash(a) == minhash(b)).mean())
    assert abs(estimate - jaccard(a, b)) < 0.2


def test_threshold_separates_copies_from_other_articles(paragraphs: list[str]) -> None:
    """Copies score above NEAR_DUPLICATE, distinct paragraphs (same topics) far below it."""
    rng = random.Random(0)
    sample = rng.sample(paragraphs, 60)
    for text in sample:
        base = shingles(text)
        assert jaccard(base, shingles(syndicated(text))) >= NEAR_DUPLICATE + 0.3
        assert jaccard(base, shingles(edited(text))) >= NEAR_DUPLICATE
    distinct = [
        jaccard(shingles(a), shingles(b))
        for i, a in enumerate(sample)
        for b in sample[i + 1 :]
        if fingerprint(a) != fingerprint(b)
    ]
    assert max(distinct) < NEAR_DUPLICATE / 3


def test_index_finds_exact_and_near_copies(paragraphs: list[str]) -> None:
    stored = {"orig": paragraphs[0], "other": paragraphs[1]}
    reads: list[list[str]] = []

    def bodies_of(doc_ids: Sequence[str]) -> dict[str, str]:
        reads.append(list(doc_ids))
        return {d: stored[d] for d in doc_ids if d in stored}

    index = DuplicateIndex(bodies_of)
    for doc_id, text in stored.items():
        index.add(doc_id, fingerprint(text), minhash(shingles(text)))

    def find(doc_id: str, text: str) -> tuple[str, float] | None:
        keys = article_keys(text)
        return index.find(doc_id, keys.fingerprint, keys.signature, keys.shingles)

    assert find("copy", paragraphs[0].upper()) == ("orig", 1.0)
    near = find("feed", syndicated(edited(paragraphs[0])))
    assert near is not None and near[0] == "orig" and NEAR_DUPLICATE <= near[1] < 1
    assert find("new", paragraphs[2]) is None
    assert find("orig", paragraphs[0]) is None  # an article is not a copy of itself
    # Each lookup reads its candidates' bodies in one call, and each body once in all.
    read = [d for call in reads for d in call]
    assert read and len(read) == len(set(read))


def test_index_keeps_finding_copies_as_it_grows(paragraphs: list[str]) -> None:
    """Past its first allocations (64 rows, doubling), every stored article is still found."""
    index = DuplicateIndex(lambda ids: {})  # every article here keeps its shingles in memory
    for i, text in enumerate(paragraphs[:150]):
        keys = article_keys(text)
        index.add(str(i), keys.fingerprint, keys.signature, keys.shingles)
    for i in (0, 63, 64, 130, 149):
        copy = article_keys(syndicated(paragraphs[i]))
        found = index.find("new", copy.fingerprint, copy.signature, copy.shingles)
        assert found is not None and found[0] == str(i), i


@pytest.mark.integration
def test_copies_are_reported_and_not_indexed(service: NewsQA, tmp_path: Path) -> None:
    original = SEED_FILES[1].read_text(encoding="utf-8")
    body = original.split("\n", 1)[1]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_kremlin.txt").write_text(original, encoding="utf-8")
    (folder / "b_same.txt").write_text(original.replace("\n", "\n\n"), encoding="utf-8")
    (folder / "c_feed.md").write_text("# Il Cremlino e le garanzie\n\n" + syndicated(body))
    (folder / "d_other.txt").write_text(SEED_FILES[0].read_text(encoding="utf-8"))
    report = service.ingest([folder])
    assert sorted(report.added) == ["a_kremlin", "d_other"]
    copies = {d.doc_id: (d.of, d.similarity) for d in report.duplicates}
    assert copies["b_same"] == ("a_kremlin", 1.0)
    assert copies["c_feed"][0] == "a_kremlin" and copies["c_feed"][1] >= NEAR_DUPLICATE
    assert "2 duplicates not indexed" in report.summary()
    assert {c.doc_id for c in service.store.all_chunks()} == {"a_kremlin", "d_other"}

    # Against the store: a later copy of a stored article is caught too.
    (tmp_path / "e_later.txt").write_text(edited(body, every=25), encoding="utf-8")
    later = service.ingest([tmp_path / "e_later.txt"])
    assert later.added == [] and later.duplicates[0].of == "a_kremlin"
    assert service.store.counts()[0] == 2


@pytest.mark.integration
def test_records_without_duplicate_keys_are_checked_from_their_bodies(
    service: NewsQA, tmp_path: Path
) -> None:
    """Records stored before duplicate keys existed get them from their bodies (one read)."""
    article = read_article(SEED_FILES[1], 1_000_000)
    chunks = chunk_article(article, service.embedder, 254, 1)
    vectors = service.embedder.embed_documents([c.text for c in chunks])
    service.store.put_article(article, chunks, vectors)  # no fingerprint, no MinHash
    assert "minhash" not in service.store.records()[article.doc_id]
    (tmp_path / "copia.txt").write_text(article.title + "\n" + syndicated(article.body))
    report = service.ingest([tmp_path / "copia.txt"])
    assert report.added == [] and report.duplicates[0].of == article.doc_id
