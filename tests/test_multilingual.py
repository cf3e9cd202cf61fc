"""Questions in other languages over the Italian seeds (multilingual-e5-small), the pure
pieces that make them work, and the English MiniLM that stays selectable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answering.extractive import ScoredSentence, pick_sentences, score_sentences
from rag.answering.language import ABSTENTION, abstention_message, detect_language
from rag.retrieval.hybrid import spread
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC, SEEDS, make_service
from tests.test_answers import assert_citations_verbatim
from vectorstore.documents import Chunk
from vectorstore.embeddings import LocalEmbedder

BODY = "Peskov ha parlato a Vladivostok venerdì. Ventisei nazioni hanno promesso garanzie."


def test_languages_told_apart() -> None:
    assert detect_language("Chi è il portavoce del Cremlino?") == "it"
    assert detect_language("Who is the Kremlin spokesman?") == "en"
    assert detect_language("Qui est le porte-parole du Kremlin ?") == "fr"
    assert detect_language("¿Quién es el portavoz del Kremlin?") == "es"
    assert detect_language("Wer ist der Sprecher des Kremls?") == "de"
    # German questions with none of the commonest asking words; French asking "how many"
    assert detect_language("In welchem Jahr wurde er geboren?") == "de"
    assert detect_language("Welches Enzym nutzen die Chloroplasten, um Zucker zu bilden?") == "de"
    assert detect_language("Selon le rapport, combien de personnes possèdent autant ?") == "fr"
    assert detect_language("Peskov?") == "it"  # names alone: the articles' language
    assert abstention_message("Wer hat das gesagt?") == ABSTENTION["de"]


def test_spread_maps_a_narrow_band_to_zero_one() -> None:
    assert spread([("a", 0.86), ("b", 0.80), ("c", 0.83)]) == [
        ("a", 1.0),
        ("b", 0.0),
        ("c", pytest.approx(0.5)),
    ]
    assert spread([("a", 0.8)]) == [("a", 1.0)] and spread([]) == []


def test_similarity_chooses_a_sentence_sharing_no_word() -> None:
    """An English question shares no stem with the Italian sentences: the cosine decides,
    and `dense_below` lets it answer where coverage alone would abstain."""
    chunk = Chunk("d", 0, 0, len(BODY), BODY)
    terms = {"spokesman": 3.0, "spoke": 2.0}

    def cosines(texts: list[str] | tuple[str, ...]) -> list[float]:
        return [0.9 if "Peskov" in t else 0.7 for t in texts]

    scored = score_sentences(terms, [chunk], similarity=cosines)
    assert BODY[scored[0].start : scored[0].end].startswith("Peskov")
    assert [s.cosine for s in scored] == [0.9, 0.7]
    assert pick_sentences(scored, 2, 0.1) == []  # no lexical coverage
    picked = pick_sentences(scored, 2, 0.1, dense_below=0.85)
    assert [p.cosine for p in picked] == [0.9]


def test_dense_below_replaces_the_lexical_rule() -> None:
    """For another language, accidental stem matches do not make a sentence eligible."""
    chunk = Chunk("d", 0, 0, len(BODY), BODY)
    covered = ScoredSentence(chunk, 0, 40, coverage=0.5, score=0.5, cosine=0.8)
    assert pick_sentences([covered], 1, 0.1) == [covered]
    assert pick_sentences([covered], 1, 0.1, dense_below=0.83) == []


@pytest.mark.integration
def test_english_question_finds_the_italian_evidence(seeded: NewsQA) -> None:
    """The English words share nothing with the Italian text ("Kremlin" is "Cremlino"):
    the dense list finds the passage, which is not refused as an unknown name; an answer
    quotes the Italian verbatim, an abstention is in English."""
    answer = seeded.ask("Who is the Kremlin spokesman?")
    assert answer.sources[0].doc_id == KREMLIN_DOC and "Peskov" in answer.sources[0].text
    assert_citations_verbatim(seeded, answer)
    if answer.abstained:
        assert answer.answer == ABSTENTION["en"]
    else:
        assert "Peskov" in answer.answer


@pytest.mark.integration
def test_unanswerable_english_question_abstains_in_english(seeded: NewsQA) -> None:
    answer = seeded.ask("Who won the football World Cup in 2018?")
    assert answer.abstained and answer.answer == ABSTENTION["en"] and not answer.citations


@pytest.mark.integration
def test_dense_cosines_are_the_stored_vectors(seeded: NewsQA) -> None:
    chunks = seeded.store.all_chunks()[:3]
    got = seeded.dense.chunk_cosines("portavoce del Cremlino", chunks)
    query = np.asarray(seeded.embedder.embed_query("portavoce del Cremlino"))
    stored = [v for v in seeded.store.chunk_vectors(chunks) if v is not None]
    assert len(stored) == 3 and len(set(got)) == len(got)
    expected = [(float(v.chunk @ query) + float(np.max(v.sentences @ query))) / 2 for v in stored]
    assert got == pytest.approx(expected, abs=1e-5)
    sentence = chunks[0].text[:80]
    direct = np.asarray(seeded.embedder.embed_documents([sentence])[0]) @ query
    assert seeded.dense.sentence_cosines("portavoce del Cremlino", [sentence]) == pytest.approx(
        [float(direct)], abs=1e-5
    )


@pytest.mark.integration
def test_minilm_stays_selectable(tmp_path: Path, minilm: LocalEmbedder) -> None:
    """The English model as before: its own store, BM25 only, Italian answers still cite."""
    service = make_service(tmp_path / "data", minilm, dense_weight=0.0)
    service.ingest([SEEDS])
    assert service.store.embedding_model == "all-MiniLM-L6-v2+sentences"
    answer = service.ask("Chi è il portavoce del Cremlino?")
    assert "Peskov" in answer.answer
    assert_citations_verbatim(service, answer)
