"""The BM25 index that changes in place: exact Lucene BM25 over the live texts, whatever
sequence of segments and deletions produced it (pure: no store, no model)."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np

from eval.datasets import SQUAD_IT
from rag.retrieval.lexical import LexicalIndex, Postings, analyze


@cache
def squad() -> tuple[list[list[str]], list[list[str]]]:
    """Analysed paragraphs of eight SQuAD-it articles and every 7th of their questions."""
    data = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))["data"][:8]
    paragraphs = [p for a in data for p in a["paragraphs"]]
    questions = [q["question"] for p in paragraphs for q in p["qas"]][::7]
    return [analyze(p["context"]) for p in paragraphs], [analyze(q) for q in questions]


def reference(texts: list[list[str]], terms: list[str], k1: float = 1.2, b: float = 0.75) -> dict:
    """BM25 as bm25s's Lucene variant defines it, written out plainly."""
    n = len(texts)
    avg = sum(map(len, texts)) / n
    df = Counter(t for text in texts for t in set(text))
    scores = {}
    for d, text in enumerate(texts):
        counts = Counter(text)
        score = 0.0
        for t in terms:
            if counts[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * counts[t] / (counts[t] + k1 * (1 - b + b * len(text) / avg))
        if score > 0:
            scores[d] = score
    return scores


def test_search_is_lucene_bm25_with_ties_by_position_and_masks() -> None:
    texts, questions = squad()
    index = LexicalIndex.from_tokens(texts)
    mask = (np.arange(len(texts)) % 3 != 0).astype(np.float32)
    for terms in questions[:40]:
        want = reference(texts, terms)
        for k, m in ((10, None), (len(texts) + 5, None), (10, mask)):
            allowed = {d: s for d, s in want.items() if m is None or m[d]}
            expect = sorted(allowed.items(), key=lambda p: (-p[1], p[0]))[:k]
            got = index.search(terms, k, m)
            assert [d for d, _ in got] == [d for d, _ in expect]
            assert np.allclose([s for _, s in got], [s for _, s in expect])


def rankings(index: LexicalIndex, positions: list[int], questions: list[list[str]]) -> list:
    """Each question's ranking, as positions of the texts in the order `positions` lists them."""
    order = {p: i for i, p in enumerate(positions)}
    return [
        [(order[d], round(s, 9)) for d, s in index.search(terms, 15)] for terms in questions[:60]
    ]


def test_segments_deletions_and_merges_rank_as_a_fresh_build() -> None:
    texts, questions = squad()
    half = len(texts) // 2
    grown = (
        LexicalIndex.from_tokens(texts[:half])
        .appended(texts[half : half + 40])
        .appended(texts[half + 40 :])
    )
    dead = [*range(10, 30), *range(half + 5, half + 25)]
    changed = grown.without(dead)
    live = [p for p in range(len(texts)) if p not in set(dead)]
    fresh = LexicalIndex.from_tokens([texts[p] for p in live])
    assert (changed.size, changed.total) == (fresh.size, len(texts))
    assert changed.avg_length == fresh.avg_length
    assert changed.doc_freq == fresh.doc_freq
    want = rankings(fresh, list(range(len(live))), questions)
    assert rankings(changed, live, questions) == want
    tail = changed.merged(1, "tail")  # positions kept, deletion marks too
    assert len(tail.segments) == 2 and tail.total == len(texts)
    assert rankings(tail, live, questions) == want
    compact = changed.merged(0, "all", live_only=True)  # deleted texts gone
    assert len(compact.segments) == 1 and compact.total == compact.size == len(live)
    assert rankings(compact, list(range(len(live))), questions) == want


def test_postings_survive_save_and_load(tmp_path: Path) -> None:
    texts, questions = squad()
    postings = Postings.of(texts[:50], "one")
    postings.save(tmp_path / "one")
    loaded = Postings.load(tmp_path / "one", "one")
    assert loaded.vocab == postings.vocab and loaded.name == "one"
    assert np.array_equal(loaded.lengths, postings.lengths)
    assert (loaded.counts != postings.counts).nnz == 0
    a, b = LexicalIndex.of_segments((postings,)), LexicalIndex.of_segments((loaded,))
    assert [a.search(t, 10) for t in questions] == [b.search(t, 10) for t in questions]


def test_an_empty_index_and_unknown_terms_find_nothing() -> None:
    empty = LexicalIndex.from_tokens([])
    assert empty.search(["cremlin"], 5) == [] and empty.df("cremlin") == 0
    index = LexicalIndex.from_tokens([["cremlin", "pesk"], []])
    assert index.search(["zzz"], 5) == []
    assert index.search(["cremlin", "cremlin"], 5)[0][0] == 0  # repeated terms count twice
    assert index.without([0]).search(["cremlin"], 5) == []


def test_sentence_chunks_hold_what_lists_would() -> None:
    """The corpus's sentence-to-chunks map as two arrays, against the lists it replaced."""
    from rag.retrieval.corpus import SentenceChunks

    first, second = [[0], [0, 1], [1], [2]], [[0, 1], [], [1]]
    a, b = SentenceChunks.of(first), SentenceChunks.of(second)
    assert len(a) == 4 and [a[s] for s in range(4)] == first
    assert a.lists(1, 3) == first[1:3]
    assert a.firsts().tolist() == [0, 0, 1, 2]
    joined = SentenceChunks.joined([a, b.shifted(3)])
    assert joined.lists(0, len(joined)) == [*first, [3, 4], [], [4]]
    assert SentenceChunks.joined([]).lists(0, 0) == [] and len(SentenceChunks.of([])) == 0
    moved = np.array([-1, 0, 1, -1, 2])  # chunks 0 and 3 dropped, the others renumbered
    assert joined.kept(np.array([2, 3, 6]), moved).lists(0, 3) == [[0], [1], [2]]
