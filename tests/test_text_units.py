"""Pure logic: sentence spans, chunk packing, fusion, analysis and citation checks."""

from __future__ import annotations

import pytest

from rag.answering.citations import Citation, invalid_citations, is_verbatim
from rag.answering.language import abstention_message, detect_language
from rag.retrieval.fusion import score_fusion
from rag.retrieval.lexical import analyze
from vectorstore.chunking import fit_sentences, pack_chunks, paragraph_starts, split_long_span
from vectorstore.sentences import sentence_spans


def words(texts: list[str] | tuple[str, ...]) -> list[int]:
    """A stand-in token counter for pure tests: one token per word."""
    return [len(t.split()) for t in texts]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_split_on_end_punctuation_and_lines() -> None:
    text = "Primo fatto. Secondo fatto!\nTitolo senza punto\n  Terzo? Sì.  "
    assert sentences(text) == [
        "Primo fatto.",
        "Secondo fatto!",
        "Titolo senza punto",
        "Terzo?",
        "Sì.",
    ]


def test_sentences_keep_abbreviations_initials_and_open_quotes() -> None:
    text = "Il sig. Rossi vide J. F. Kennedy. «Davvero? Non ci credo» disse. Fine."
    assert sentences(text) == [
        "Il sig. Rossi vide J. F. Kennedy.",
        "«Davvero? Non ci credo» disse.",
        "Fine.",
    ]


def test_sentence_spans_are_trimmed_offsets() -> None:
    text = "  Uno due.   Tre quattro.\n"
    for s, e in sentence_spans(text):
        assert text[s:e] == text[s:e].strip() and text[s:e]


def test_sentences_of_empty_text() -> None:
    assert sentence_spans("") == [] and sentence_spans(" \n\n ") == []


def test_pack_chunks_respects_budget_and_overlaps_one_sentence() -> None:
    spans = [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert pack_chunks(spans, [3, 3, 3, 3], max_tokens=6, overlap=1) == [(0, 3), (2, 5), (4, 7)]
    assert pack_chunks(spans, [3, 3, 3, 3], max_tokens=6, overlap=0) == [(0, 3), (4, 7)]
    assert pack_chunks([], [], max_tokens=6) == []


def test_pack_chunks_always_progresses_with_big_overlap() -> None:
    spans = [(0, 1), (2, 3), (4, 5)]
    chunks = pack_chunks(spans, [5, 5, 5], max_tokens=5, overlap=3)
    assert chunks == [(0, 1), (2, 3), (4, 5)]
    with pytest.raises(ValueError):
        pack_chunks(spans, [1, 1, 1], max_tokens=5, overlap=-1)


def test_long_sentence_is_cut_at_word_boundaries() -> None:
    text = "uno due tre quattro cinque sei sette"
    pieces = split_long_span(text, (0, len(text)), 3, words)
    assert [text[s:e] for s, e in pieces] == ["uno due tre", "quattro cinque sei", "sette"]


def test_fit_sentences_splits_only_what_is_too_long() -> None:
    text = "Breve frase. Parola " + " ".join(["parola"] * 9) + "."
    spans, counts = fit_sentences(text, sentence_spans(text), 4, words)
    assert all(c <= 4 for c in counts)
    assert text[spans[0][0] : spans[0][1]] == "Breve frase."
    assert " ".join(text[s:e] for s, e in spans[1:]) == text[13:]
    assert len(spans) == 4


def test_score_fusion_weights_normalised_scores() -> None:
    fused = score_fusion([[("a", 10.0), ("b", 5.0)], [("b", 2.0), ("c", 1.0)]], [1.0, 1.0])
    assert fused == [("b", 1.5), ("a", 1.0), ("c", 0.5)]
    only_first = score_fusion([[("a", 2.0), ("b", 1.0)], [("b", 9.0), ("a", 1.0)]], [1.0, 0.0])
    assert [key for key, _ in only_first] == ["a", "b"]
    # A key low in every list does not beat one a single list puts on top (unlike RRF).
    lists = [[("x", 1.0), ("y", 0.1)], [("z", 1.0), ("y", 0.1)], [("w", 1.0), ("y", 0.1)]]
    assert score_fusion(lists, [1.0, 1.0, 1.0])[-1][0] == "y"
    assert score_fusion([[], [("a", 0.0)]], [1.0, 1.0]) == []
    with pytest.raises(ValueError):
        score_fusion([[("a", 1.0)]], [1.0, 2.0])


def test_italian_analysis_stems_and_drops_stopwords() -> None:
    assert analyze("Chi è il portavoce del Cremlino?") == ["portavoc", "cremlin"]
    assert analyze("dell’Ucraina") == analyze("l'Ucraina") == ["ucrain"]
    assert "2022" in analyze("nel 2022")
    assert analyze("") == [] and analyze("che cosa è?") == []


def test_irregular_verb_forms_meet_the_rest_of_their_verb() -> None:
    # The question's present perfect meets the article's past historic, and the noun.
    assert analyze("è nato") == analyze("nacque") == analyze("la nascita") == ["nasc"]
    assert analyze("morì") == analyze("la morte")
    assert analyze("hanno ottenuto") == analyze("ottennero")
    assert analyze("ha scritto") == analyze("scrisse") == analyze("scrivere")
    assert analyze("divenne") == analyze("divenire")
    # Forms that are also words of another meaning keep their own stems.
    assert analyze("le chiese") != analyze("chiedere")
    assert analyze("una sorta di") != analyze("sorgere")
    assert analyze("la rivolta") != analyze("rivolgere")


def test_language_of_the_abstention() -> None:
    assert detect_language("Chi è il portavoce del Cremlino?") == "it"
    assert detect_language("Who is the Kremlin spokesman?") == "en"
    assert abstention_message("What did Macron say?").startswith("I could not find")
    assert abstention_message("Cosa ha detto Macron?").startswith("Non ho trovato")


def test_citation_checks() -> None:
    body = "Peskov ha parlato. Poi basta."
    good = Citation(n=1, doc_id="d", title="t", date=None, source="s", quote="Peskov ha parlato.",
                    start=0, end=18)  # fmt: skip
    shifted = good.model_copy(update={"start": 1, "end": 19})
    unknown = good.model_copy(update={"doc_id": "x"})
    assert is_verbatim(good.quote, body, 0, 18)
    assert not is_verbatim("", body, 0, 0) and not is_verbatim("x", body, 40, 41)
    assert invalid_citations([good, shifted, unknown], {"d": body}) == [shifted, unknown]


def test_pack_chunks_ends_at_paragraphs_once_big_enough() -> None:
    text = "Aa a.\nBb b.\n\nCc c. Dd d."
    spans = sentence_spans(text)
    assert paragraph_starts(text, spans) == {1, 2}
    counts = [3, 3, 3, 3]
    # A 3-piece paragraph is below the minimum of 4: it joins the next one.
    chunks = pack_chunks(spans, counts, 12, 1, paragraph_starts(text, spans), paragraph_min=4)
    assert [text[s:e] for s, e in chunks] == ["Aa a.\nBb b.", "Cc c. Dd d."]
    # No paragraph breaks: one chunk; a minimum of 0 breaks at every paragraph.
    assert len(pack_chunks(spans, counts, 12, 1)) == 1
    assert len(pack_chunks(spans, counts, 12, 1, paragraph_starts(text, spans), 0)) == 3
