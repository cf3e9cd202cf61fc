"""Streaming answers: the event protocol, the SSE route on a live server and the Gradio chat
through gradio_client; every citation on these paths is checked verbatim."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rag.answering.extractive import Answer
from rag.answering.streaming import (
    AnswerWithNotice,
    FinalAnswer,
    TextDelta,
    answer_events,
    final_answer,
    text_pieces,
)
from rag.http.stream import ask_events, sse
from rag.service import NewsQA
from tests.conftest import KREMLIN_DOC

QUESTION = "Chi è il portavoce del Cremlino?"


def assert_quotes_verbatim(service: NewsQA, citations: list[dict[str, Any]]) -> None:
    assert citations, "expected at least one citation"
    bodies = service.store.get_articles([c["doc_id"] for c in citations])
    for c in citations:
        assert bodies[c["doc_id"]].article.body[c["start"] : c["end"]] == c["quote"], c


def read_sse(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a server-sent event stream."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


# pure logic ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["", "uno", "  Putin ha detto «no» [1].\nPeskov: sì [2]. ", "a b c d e f g"]
)
def test_text_pieces_concatenate_to_the_text(text: str) -> None:
    pieces = text_pieces(text, words=2)
    assert "".join(pieces) == text
    assert all(len(p.split()) <= 2 for p in pieces)


def test_answer_events_end_with_the_answer() -> None:
    answer = Answer(
        answer="Dmitry Peskov è il portavoce. [1]", abstained=False, citations=[], sources=[]
    )
    events = list(answer_events(answer))
    assert isinstance(events[-1], FinalAnswer) and events[-1].answer is answer
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == answer.answer
    assert final_answer(iter(events)) is answer
    with pytest.raises(RuntimeError, match="without its final answer"):
        final_answer(iter(events[:-1]))


def test_notice_is_in_the_json_only_when_set() -> None:
    plain = AnswerWithNotice(answer="x", abstained=True, citations=[], sources=[])
    assert "notice" not in plain.model_dump(mode="json")
    noted = plain.model_copy(update={"notice": "fallback"})
    assert noted.model_dump(mode="json")["notice"] == "fallback"


def test_sse_format() -> None:
    answer = Answer(answer="a b", abstained=False, citations=[], sources=[])
    text = "".join(ask_events([TextDelta("a "), FinalAnswer(answer)]))
    assert text == sse({"text": "a "}, "delta") + sse(answer.model_dump(mode="json"), "answer")
    assert read_sse(text.split("\n")) == [
        ("delta", {"text": "a "}),
        ("answer", answer.model_dump(mode="json")),
    ]


# the service ---------------------------------------------------------------------------
@pytest.mark.integration
def test_ask_stream_matches_ask(seeded: NewsQA) -> None:
    events = list(seeded.ask_stream(QUESTION))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    finals = [e for e in events if isinstance(e, FinalAnswer)]
    assert len(finals) == 1 and events[-1] is finals[0]
    answer = finals[0].answer
    assert len(deltas) > 1 and "".join(deltas) == answer.answer
    assert answer == seeded.ask(QUESTION)
    assert "Peskov" in answer.answer
    assert_quotes_verbatim(seeded, [c.model_dump() for c in answer.citations])


@pytest.mark.integration
def test_ask_stream_checks_input_before_streaming(seeded: NewsQA) -> None:
    from rag.errors import InputError

    with pytest.raises(InputError, match="empty"):
        seeded.ask_stream("   ")  # raises on the call, not on the first event


# the SSE route on a live server --------------------------------------------------------
@pytest.mark.integration
def test_sse_stream_on_live_server(live_server: str, seeded: NewsQA) -> None:
    payload = {"question": QUESTION, "top_k": 3}
    with httpx.stream("POST", f"{live_server}/api/v1/ask/stream", json=payload, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = read_sse(list(r.iter_lines()))
    names = [name for name, _ in events]
    assert names[-1] == "answer" and names.count("answer") == 1
    assert names[:-1] == ["delta"] * (len(names) - 1) and len(names) > 2
    final = events[-1][1]
    assert "".join(data["text"] for name, data in events[:-1]) == final["answer"]
    plain = httpx.post(f"{live_server}/api/v1/ask", json=payload, timeout=30).json()
    assert final == plain
    assert final["citations"][0]["doc_id"] == KREMLIN_DOC
    assert_quotes_verbatim(seeded, final["citations"])


@pytest.mark.integration
def test_sse_stream_refuses_bad_input_with_422(live_server: str) -> None:
    response = httpx.post(f"{live_server}/api/v1/ask/stream", json={"question": " ", "top_k": 0})
    assert response.status_code == 422
    assert "question" in response.json()["message"] and "top_k" in response.json()["message"]


# the Gradio chat through gradio_client ---------------------------------------------------
@pytest.mark.integration
def test_gradio_chat_streams_a_cited_answer(live_server: str, seeded: NewsQA) -> None:
    from gradio_client import Client

    client = Client(f"{live_server}/", verbose=False, download_files=False, analytics_enabled=False)
    try:
        job = client.submit(QUESTION, api_name="/chat")
        final = job.result(timeout=60)
        outputs = job.outputs()
    finally:
        client.close()  # stops its heartbeat, so the live server can shut down at once
    assert len(outputs) > 2  # partial messages arrived before the final one
    text = final if isinstance(final, str) else json.dumps(final, ensure_ascii=False)
    assert "Peskov" in text and "[1]" in text and "**Fonti**" in text
    plain = seeded.ask(QUESTION)
    shown = text.replace("<mark>", "").replace("</mark>", "")  # the answering span's highlight
    for c in plain.citations:
        assert c.quote in shown and f"[{c.start}–{c.end}]" in text
    assert_quotes_verbatim(seeded, [c.model_dump() for c in plain.citations])
