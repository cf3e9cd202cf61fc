"""The OpenAI-compatible endpoint through the official `openai` client on a live server."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from rag.service import NewsQA
from tests.test_streaming import QUESTION, assert_quotes_verbatim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(live_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0)


def test_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["newsrag"]
    assert client.models.retrieve("newsrag").owned_by == "newsrag"


def test_chat_completion_carries_citations(
    client: openai.OpenAI, live_server: str, seeded: NewsQA
) -> None:
    reply = client.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "Sei un assistente."},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert reply.object == "chat.completion" and reply.model == "newsrag"
    message = reply.choices[0].message
    assert message.role == "assistant" and reply.choices[0].finish_reason == "stop"
    assert message.content and "Peskov" in message.content and "[1]" in message.content
    extra: dict[str, Any] = message.model_extra or {}
    assert extra["abstained"] is False
    citations = extra["citations"]
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert all(f"[{c['n']}]" in message.content for c in citations)
    assert_quotes_verbatim(seeded, citations)
    plain = httpx.post(f"{live_server}/api/v1/ask", json={"question": QUESTION}).json()
    assert message.content == plain["answer"] and citations == plain["citations"]


def test_streamed_chat_completion_carries_citations_in_the_last_chunk(
    client: openai.OpenAI, seeded: NewsQA
) -> None:
    stream = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len([c for c in chunks if c.choices[0].delta.content]) > 1
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    extra: dict[str, Any] = last.delta.model_extra or {}
    assert "Peskov" in text and all(f"[{c['n']}]" in text for c in extra["citations"])
    assert text == seeded.ask(QUESTION).answer
    assert_quotes_verbatim(seeded, extra["citations"])


def test_messages_map_to_question_and_history(client: openai.OpenAI, seeded: NewsQA) -> None:
    history = [
        {"role": "user", "content": "Chi ha ringraziato Putin per i soldati nordcoreani?"},
        {"role": "assistant", "content": "Kim Jong-un."},
    ]
    question = "E dove sono stazionate le sue truppe?"
    reply = client.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "ignored"},
            *history,
            {"role": "user", "content": [{"type": "text", "text": question}]},
        ],
        extra_body={"top_k": 2},
    )
    message = reply.choices[0].message
    expected = seeded.ask(question, history=history, top_k=2)
    assert message.content == expected.answer and "territorio russo" in message.content
    extra: dict[str, Any] = message.model_extra or {}
    assert len(extra["sources"]) == 2
    assert_quotes_verbatim(seeded, extra["citations"])


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"model": "gpt-4o"}, "unknown model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "ciao"}]}, "last message"),
        ({"messages": [{"role": "user", "content": "  "}]}, "question is empty"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "2000 characters"),
        ({"extra_body": {"top_k": 0}}, "top_k"),
        ({"n": 2}, "n:"),
    ],
)
def test_bad_requests_get_a_readable_422(
    client: openai.OpenAI, kwargs: dict[str, Any], problem: str
) -> None:
    args: dict[str, Any] = {"model": "newsrag", "messages": [{"role": "user", "content": QUESTION}]}
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(**{**args, **kwargs})
    assert problem in str(info.value.body)
