"""The pure parts of two checks of issue 18 (README, "Stop 45"): eval.reader_check (which
answers it compares, its AUC and PMI) and eval.translated_set (names kept out of a
translation, each language's pairs). Neither the model nor Apertium is installed here."""

from __future__ import annotations

import pytest

from eval.reader_check import Answered, answered, auc, first_quote, pmi
from eval.translated_set import protect, restore, translated


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "question": "Chi è il portavoce?",
        "answer": "Peskov ha parlato. [1] Poi ha taciuto. [2]",
        "abstained": False,
        "history": [],
        "answerable": True,
        "correct": True,
    }
    return {**base, **fields}


def test_the_first_quote_is_the_text_before_its_marker() -> None:
    assert first_quote("Peskov ha parlato. [1] Poi ha taciuto. [2]") == "Peskov ha parlato."
    assert first_quote("«No», ha detto [2] e basta. [3]") == "«No», ha detto"


def test_right_answers_and_answered_unanswerable_questions_are_compared() -> None:
    records = [
        record(),
        record(question="Quanti anni ha?", answerable=False, correct=False),
        record(correct=False),  # a wrong answer: neither kind
        record(abstained=True, answer="Non ho trovato la risposta negli articoli."),
        record(history=[{"role": "user", "content": "Chi?"}]),  # a follow-up
    ]
    assert answered(records) == [
        Answered("Chi è il portavoce?", "Peskov ha parlato.", 1),
        Answered("Quanti anni ha?", "Peskov ha parlato.", 0),
    ]


def test_auc_counts_right_answers_scoring_above_unanswerable_ones() -> None:
    assert auc([0.9, 0.8, 0.7], [1, 1, 0]) == 1.0
    assert auc([0.7, 0.8, 0.9], [1, 1, 0]) == 0.0
    assert auc([0.8, 0.8], [1, 0]) == 0.5
    assert auc([0.8, 0.9], [1, 1]) is None  # nothing to tell apart


def test_pmi_is_what_the_quote_adds_to_the_question_s_log_probability() -> None:
    assert pmi([-1.0, -2.0], [-3.0, -4.0]) == pytest.approx(4.0)


def test_names_are_kept_out_of_the_translation() -> None:
    """eval.translated_set: a name would be translated as a word ("Trump": "trionfo")."""
    held, names = protect("Which sanctions did Donald Trump and Zelensky discuss?")
    assert names == ["Donald Trump", "Zelensky"]
    assert "Trump" not in held and held.startswith("Which")  # the opening word stays
    assert protect("What did Ursula von der Leyen say?")[1] == ["Ursula von der Leyen"]
    assert restore(held.replace("Which", "Quali"), names) == (
        "Quali sanctions did Donald Trump and Zelensky discuss?"
    )


def test_each_language_goes_through_its_pairs() -> None:
    calls: list[str] = []

    def through(text: str, pair: str) -> str:
        calls.append(pair)
        return text.upper()  # placeholders come back in another case too

    assert translated("Who is Peskov?", "en", through) == "WHO IS Peskov?"
    assert calls == ["eng-spa", "spa-ita"]
    assert translated("Wer ist Peskov?", "de", through) == "Wer ist Peskov?"  # no pair
