"""Pure logic of small-to-big sources: a chunk widened into a passage of its article."""

from __future__ import annotations

from rag.retrieval.passages import nearby_sentences, passages, widen, widen_span
from vectorstore.documents import Chunk
from vectorstore.sentences import sentence_spans

BODY = " ".join(f"Frase numero {i} della notizia sul vertice." for i in range(60))


def chunk_of(body: str, first: int, last: int, index: int = 0, doc_id: str = "a") -> Chunk:
    """A chunk of sentences first..last (inclusive) of `body`."""
    spans = sentence_spans(body)
    start, end = spans[first][0], spans[last][1]
    return Chunk(doc_id, index, start, end, body[start:end], "Titolo")


def test_widen_grows_by_whole_sentences_both_ways_within_the_limit() -> None:
    chunk = chunk_of(BODY, 20, 24)
    passage = widen(chunk, BODY, limit=500)
    spans = sentence_spans(BODY)
    assert passage.text == BODY[passage.start : passage.end]
    assert passage.start <= chunk.start and passage.end >= chunk.end
    assert len(passage.text) <= 500
    assert passage.start in {s for s, _ in spans} and passage.end in {e for _, e in spans}
    # Alternating sides: it grew on both, and one more sentence on either side would not fit.
    assert passage.start < chunk.start and passage.end > chunk.end
    before = max(s for s, _ in spans if s < passage.start)
    after = min(e for _, e in spans if e > passage.end)
    assert passage.end - before > 500 and after - passage.start > 500
    assert (passage.doc_id, passage.index, passage.title) == ("a", 0, "Titolo")


def test_widen_at_the_edges_of_the_article_grows_the_other_way() -> None:
    first = widen(chunk_of(BODY, 0, 1), BODY, limit=400)
    last = widen(chunk_of(BODY, 58, 59), BODY, limit=400)
    assert first.start == 0 and first.end > chunk_of(BODY, 0, 1).end
    assert last.end == len(BODY) and last.start < chunk_of(BODY, 58, 59).start
    assert len(first.text) <= 400 and len(last.text) <= 400


def test_widen_leaves_a_long_chunk_and_a_changed_article_alone() -> None:
    chunk = chunk_of(BODY, 10, 12)
    assert widen(chunk, BODY, limit=len(chunk.text)) == chunk
    assert widen(chunk, BODY.replace("vertice", "summit"), limit=1500) == chunk


def test_nearby_sentences_match_the_whole_body_split() -> None:
    spans = sentence_spans(BODY)
    chunk = chunk_of(BODY, 30, 31)
    near = nearby_sentences(BODY, chunk.start, chunk.end, 300)
    assert near and set(near) <= set(spans)
    inside = [s for s in spans if s[0] >= chunk.start - 300 and s[1] <= chunk.end + 300]
    assert set(inside) <= set(near)
    assert widen_span(near, chunk.start, chunk.end, 300) == widen_span(
        spans, chunk.start, chunk.end, 300
    )


def test_passages_skip_chunks_already_shown_and_keep_the_ranking() -> None:
    other = "Un altro articolo. Parla di altro. Ancora altro testo qui."
    a1, a2 = chunk_of(BODY, 20, 22, 5), chunk_of(BODY, 22, 24, 6)  # overlapping neighbours
    b = chunk_of(other, 0, 1, 0, doc_id="b")
    far = chunk_of(BODY, 50, 52, 9)
    ranked = [(a1, 3.0), (a2, 2.0), (b, 1.5), (far, 1.0)]
    got = passages(ranked, {"a": BODY, "b": other}, k=3)
    assert [(c.doc_id, c.index) for c, _ in got] == [("a", 5), ("b", 0), ("a", 9)]
    assert [s for _, s in got] == [3.0, 1.5, 1.0]
    for c, _ in got:
        body = BODY if c.doc_id == "a" else other
        assert c.text == body[c.start : c.end] and len(c.text) <= 1500


def test_chunks_whose_article_is_gone_or_rewritten_are_left_out() -> None:
    """A lexical snapshot taken before a delete or an update still proposes the old chunks;
    they no longer match the stored body, so no source shows them."""
    chunk = chunk_of(BODY, 3, 4)
    rewritten = BODY.replace(chunk.text[:20], "x" * 20)
    assert passages([(chunk, 1.0)], {}, k=4) == []
    assert passages([(chunk, 1.0)], {"a": rewritten}, k=4) == []
    ((widened, _),) = passages([(chunk, 1.0)], {"a": BODY}, k=4)
    assert chunk.text in widened.text
