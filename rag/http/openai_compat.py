"""An OpenAI-compatible face: `POST /v1/chat/completions` (plain and streaming), `GET /v1/models`.

The official `openai` client and OpenAI-compatible chat front-ends can talk to newsrag.
The reply's `content` keeps the `[n]` markers, and the message carries the structured
citations (plus `sources`, `abstained` and any `notice`) as extra fields: on the plain
reply in `choices[0].message`, on a stream in the last chunk's `choices[0].delta`.
The last user message is the question; earlier user/assistant turns are its history;
system messages and sampling parameters are accepted and ignored (newsrag's answerer
has its own instructions).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag.answering.streaming import FinalAnswer, StreamEvent, TextDelta, final_answer
from rag.errors import NewsragError
from rag.http.deps import ServiceDep
from rag.http.stream import SSE_HEADERS, sse

MODEL_ID = "newsrag"
MAX_QUESTION_CHARS = 2_000
MAX_MESSAGE_CHARS = 20_000

router = APIRouter(tags=["openai-compatible"])


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, …: accepted, not used
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""

    @model_validator(mode="after")
    def not_too_long(self) -> ChatMessage:
        if len(self.text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"a message may have at most {MAX_MESSAGE_CHARS} characters")
        return self


class ChatRequest(BaseModel):
    """The OpenAI request body; `top_k` (1–20) is newsrag's own (send it in `extra_body`)."""

    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, …: accepted, not used
    model: str = Field(examples=[MODEL_ID])
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="one answer per request")
    top_k: int = Field(4, ge=1, le=20)

    @field_validator("model")
    @classmethod
    def known_model(cls, value: str) -> str:
        if value != MODEL_ID:
            raise ValueError(f"unknown model {value!r}: use {MODEL_ID!r} (see GET /v1/models)")
        return value

    @field_validator("messages")
    @classmethod
    def ends_with_a_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        last = messages[-1]
        if last.role != "user":
            raise ValueError("the last message must be the user's question")
        if not last.text.strip():
            raise ValueError("the question is empty: ask something about the articles")
        if len(last.text) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question may have at most {MAX_QUESTION_CHARS} characters")
        return messages

    def question_and_history(self) -> tuple[str, list[dict[str, str]]]:
        history = [
            {"role": m.role, "content": m.text}
            for m in self.messages[:-1]
            if m.role in ("user", "assistant")
        ]
        return self.messages[-1].text, history


def _envelope(kind: str, completion_id: str, created: int) -> dict[str, Any]:
    return {"id": completion_id, "object": kind, "created": created, "model": MODEL_ID}


def completion(answer_json: dict[str, Any], completion_id: str, created: int) -> dict[str, Any]:
    """A `chat.completion` whose message carries the answer's citations as extra fields."""
    extra = dict(answer_json)
    content = extra.pop("answer")
    message = {"role": "assistant", "content": content, "refusal": None, **extra}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    return {**_envelope("chat.completion", completion_id, created), "choices": [choice]}


def completion_chunks(
    events: Iterable[StreamEvent], completion_id: str, created: int
) -> Iterator[str]:
    """`chat.completion.chunk` SSE: the role, content deltas, the citations, then `[DONE]`."""
    head = _envelope("chat.completion.chunk", completion_id, created)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return sse({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if isinstance(event, TextDelta):
                yield chunk({"content": event.text})
            elif isinstance(event, FinalAnswer):
                extra = event.answer.model_dump(mode="json")
                del extra["answer"]  # the deltas carried it
                yield chunk(extra, "stop")
    except NewsragError as exc:
        yield sse({"error": {"message": str(exc), "type": "server_error", "code": None}})
    yield "data: [DONE]\n\n"


@router.get("/v1/models")
def list_models() -> dict[str, Any]:
    """The one model: newsrag's cited answers."""
    return {"object": "list", "data": [model_card()]}


@router.get("/v1/models/{model_id}")
def get_model(model_id: str) -> dict[str, Any]:
    if model_id != MODEL_ID:
        raise HTTPException(404, f"unknown model {model_id!r}: use {MODEL_ID!r}")
    return model_card()


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsrag"}


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={200: {"content": {"text/event-stream": {}}, "description": "when stream=true"}},
)
def chat_completions(body: ChatRequest, svc: ServiceDep) -> dict[str, Any] | StreamingResponse:
    """The answer as an OpenAI chat completion; citations in `message.citations`."""
    question, history = body.question_and_history()
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    events = svc.ask_stream(question, history=history, top_k=body.top_k)
    if body.stream:
        return StreamingResponse(
            completion_chunks(events, completion_id, created),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    answer = final_answer(events)
    return completion(answer.model_dump(mode="json"), completion_id, created)
