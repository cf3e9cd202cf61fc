"""Date awareness: the dates a question names, ranges, boosts, and the API's date filter."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from rag.errors import InputError
from rag.http.app import create_app
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.dates import (
    DAY_BOOST,
    MONTH_BOOST,
    WEEKDAY_BOOST,
    DateHint,
    date_boost,
    in_range,
    question_dates,
)
from rag.retrieval.hybrid import Query, hybrid_search
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC
from vectorstore.documents import Article, Chunk


def test_question_dates_reads_days_months_and_weekdays() -> None:
    hint = question_dates("Cosa ha detto il Cremlino venerdì 5 settembre 2025?")
    assert hint.days == {(2025, 9, 5)}
    assert hint.weekdays == {4}
    assert question_dates("E il 5 settembre?").days == {(None, 9, 5)}
    assert question_dates("Cosa è successo a settembre 2025?").months == {(2025, 9)}
    assert question_dates("Notizie del 2025-09-05").days == {(2025, 9, 5)}
    assert question_dates("Notizie del 5/9/2025").days == {(2025, 9, 5)}


def test_question_dates_ignores_what_is_not_a_date() -> None:
    assert not question_dates("Chi è il portavoce del Cremlino?")
    assert not question_dates("Quante nazioni? 26 nazioni")
    assert question_dates("Il 31 febbraio?").days == frozenset()  # no such day


def test_date_boost_prefers_the_day_then_the_month_then_the_weekday() -> None:
    hint = question_dates("venerdì 5 settembre")
    assert date_boost(hint, "2025-09-05") == DAY_BOOST
    assert date_boost(question_dates("settembre 2025"), "2025-09-20") == MONTH_BOOST
    assert date_boost(question_dates("venerdì"), "2025-09-12") == WEEKDAY_BOOST  # a Friday
    assert date_boost(hint, "2025-10-07") == 0.0
    assert date_boost(hint, None) == 0.0
    assert date_boost(DateHint(), "2025-09-05") == 0.0


def test_in_range() -> None:
    sep1, sep30 = dt.date(2025, 9, 1), dt.date(2025, 9, 30)
    assert in_range("2025-09-05", sep1, sep30)
    assert not in_range("2025-10-01", sep1, sep30)
    assert in_range("2025-10-01", sep1, None)
    assert not in_range(None, sep1, sep30)  # undated: not shown to be inside
    assert in_range(None, None, None)


def _chunk(doc_id: str, text: str, date: str | None) -> Chunk:
    return Chunk(doc_id, 0, 0, len(text), text, doc_id, date, f"{doc_id}.txt")


def test_date_range_and_question_dates_steer_retrieval() -> None:
    chunks = [
        _chunk("a", "Il ministro ha parlato di sanzioni contro la Russia.", "2025-09-05"),
        _chunk("b", "Il ministro ha parlato di sanzioni contro la Russia.", "2025-10-10"),
        _chunk("c", "Il ministro ha parlato di sanzioni e di dazi.", None),
    ]
    corpus = LexicalCorpus.build(chunks)

    def docs(question: str, dates: tuple[dt.date | None, dt.date | None]) -> list[str]:
        ranked = hybrid_search([Query(question)], corpus, None, 3, 10, 0.0, dates)
        return [c.doc_id for c, _ in ranked]

    everything = docs("sanzioni alla Russia", (None, None))
    assert set(everything) == {"a", "b", "c"}
    assert docs("sanzioni alla Russia", (dt.date(2025, 10, 1), None)) == ["b"]
    assert docs("sanzioni alla Russia", (None, dt.date(2025, 9, 30))) == ["a"]
    assert docs("sanzioni alla Russia il 10 ottobre", (None, None))[0] == "b"
    assert docs("sanzioni alla Russia il 5 settembre", (None, None))[0] == "a"


def test_ask_with_a_date_range(seeded: NewsQA) -> None:
    # The Kremlin article is dated 2025-09-05; the other seed article has no date.
    question = "Chi è il portavoce del Cremlino?"
    inside = seeded.ask(question, date_from=dt.date(2025, 9, 1), date_to=dt.date(2025, 9, 30))
    assert not inside.abstained
    assert {s.doc_id for s in inside.sources} == {KREMLIN_DOC}
    outside = seeded.ask(question, date_from=dt.date(2026, 1, 1))
    assert outside.abstained and outside.sources == []
    with pytest.raises(InputError, match="date_from"):
        seeded.ask(question, date_from=dt.date(2025, 9, 30), date_to=dt.date(2025, 9, 1))


def test_api_date_filter(seeded: NewsQA) -> None:
    client = TestClient(create_app(seeded, with_ui=False))
    body = {"question": "Chi è il portavoce del Cremlino?", "date_from": "2025-09-05"}
    ok = client.post("/api/v1/ask", json=body)
    assert ok.status_code == 200
    assert {s["doc_id"] for s in ok.json()["sources"]} == {KREMLIN_DOC}
    bad = client.post("/api/v1/ask", json={**body, "date_to": "2025-09-01"})
    assert bad.status_code == 422 and "date_from is after date_to" in bad.json()["message"]
    malformed = client.post("/api/v1/ask", json={**body, "date_from": "5 settembre"})
    assert malformed.status_code == 422 and "date_from" in malformed.json()["message"]


def test_articles_keep_their_dates_in_chunks(service: NewsQA) -> None:
    article = Article("d1", "Titolo", "2025-09-05", "d1.txt", "Una frase di prova sul tema.")
    service.ingest_articles([article])
    corpus = service._lexical()
    assert list(corpus.dates) == ["2025-09-05"]
