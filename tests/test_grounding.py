"""The pure logic that checks generated sentences against their cited chunks."""

from __future__ import annotations

import pytest

from rag.answering.citations import invalid_citations
from rag.answering.grounding import (
    CachedEmbed,
    Claim,
    Grounder,
    checked_sentences,
    names_and_numbers,
    parse_claim,
    split_sentences,
)
from rag.retrieval.lexical import analyze
from vectorstore.documents import Chunk

BODY = (
    "Titolo dell'articolo\n"
    "Il portavoce del Cremlino Dmitry Peskov ha parlato venerdì a Vladivostok. "
    "Ha detto che 26 nazioni hanno promesso garanzie di sicurezza all'Ucraina.\n"
    "Le truppe nordcoreane sono stazionate sul territorio russo, secondo Peskov."
)
SPLIT = BODY.index("Le truppe")
CHUNKS = [
    Chunk("doc", 0, 0, SPLIT, BODY[:SPLIT], title="T", date="2025-09-05", source="doc.txt"),
    Chunk("doc", 1, SPLIT, len(BODY), BODY[SPLIT:], title="T", date="2025-09-05", source="d"),
]


def bag_of_stems(texts: list[str]) -> list[list[float]]:
    """A deterministic toy embedding (stem counts over a fixed vocabulary) for unit tests."""
    vocabulary = sorted({t for c in CHUNKS for t in analyze(c.text)})
    return [[float(analyze(text).count(v)) for v in vocabulary] + [0.01] for text in texts]


def grounder() -> Grounder:
    return Grounder(CHUNKS, {"doc": BODY}, lambda term: 1.0, bag_of_stems)


@pytest.mark.parametrize(
    ("sentence", "claim"),
    [
        ("Peskov è il portavoce [1].", Claim("Peskov è il portavoce.", (1,))),
        ("Peskov è il portavoce. [2][1]", Claim("Peskov è il portavoce.", (2, 1))),
        ("Peskov [1] è il portavoce [1, 3].", Claim("Peskov è il portavoce.", (1, 3))),
        ("Nessuna citazione.", Claim("Nessuna citazione.", ())),
    ],
)
def test_parse_claim(sentence: str, claim: Claim) -> None:
    assert parse_claim(sentence) == claim


def test_split_sentences_keeps_markers_with_their_sentence() -> None:
    text = "Peskov è il portavoce. [1] Le truppe sono in Russia [2]. Dal 3.5 al sig. Rossi"
    done, rest = split_sentences(text, final=False)
    assert done == ["Peskov è il portavoce. [1]", "Le truppe sono in Russia [2]."]
    assert rest == "Dal 3.5 al sig. Rossi"
    assert split_sentences(text)[0][-1] == "Dal 3.5 al sig. Rossi"


def test_split_sentences_waits_for_a_marker_that_may_follow() -> None:
    assert split_sentences("Peskov è il portavoce. [", final=False) == (
        [],
        "Peskov è il portavoce. [",
    )
    assert split_sentences("Uno.\n- due [1]\n", final=False)[0] == ["Uno.", "- due [1]"]


def test_names_and_numbers() -> None:
    assert names_and_numbers("Il Cremlino ha detto che 26 nazioni verranno a Berlino.") == {
        *analyze("Cremlino"),
        "26",
        *analyze("Berlino"),
    }
    # A list item's opening capital is no name, as a sentence's is not.
    assert names_and_numbers("- Mosca ha parlato.") == names_and_numbers("• Kiev.") == set()


def test_a_supported_claim_is_cited_with_the_best_sentence_verbatim() -> None:
    g = grounder()
    checked = g.check("Dmitry Peskov è il portavoce del Cremlino [1].")
    assert checked == "Dmitry Peskov è il portavoce del Cremlino. [1]"
    (citation,) = g.citations
    assert citation.quote.startswith("Il portavoce del Cremlino Dmitry Peskov")
    assert not invalid_citations(g.citations, {"doc": BODY})
    assert (g.dropped, g.corrected) == (0, 0)


def test_a_wrong_number_is_remapped_and_a_wrong_fact_dropped() -> None:
    g = grounder()
    assert g.check("Le truppe nordcoreane sono stazionate sul territorio russo [1].") == (
        "Le truppe nordcoreane sono stazionate sul territorio russo. [1]"
    )
    assert g.citations[0].start == SPLIT and g.corrected == 1
    assert g.check("Ha detto che 30 nazioni hanno promesso garanzie all'Ucraina [1].") is None
    assert g.check("Il vertice si terrà a Berlino con la Germania [2].") is None
    assert g.dropped == 2 and len(g.citations) == 1


def test_checked_sentences_from_a_stream_of_pieces() -> None:
    text = "Peskov è il portavoce del Cremlino [1]. Parigi ospita le Olimpiadi [2]. " * 1
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    g = grounder()
    assert list(checked_sentences(g, iter(pieces))) == ["Peskov è il portavoce del Cremlino. [1]"]
    assert g.dropped == 1


def test_cached_embed_embeds_each_text_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[float(len(t))] for t in texts]

    cached = CachedEmbed(embed, size=2)
    assert cached(["a", "bb", "a"]) == [[1.0], [2.0], [1.0]]
    assert cached(["bb"]) == [[2.0]] and calls == [["a", "bb"]]
    cached(["ccc"])  # evicts "a", the least recently used
    cached(["a"])
    assert calls[-1] == ["a"]
