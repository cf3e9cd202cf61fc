"""`POST /api/v1/ask/stream`: the answer as server-sent events.

Events, in order:
- `delta` — `{"text": "…"}`, a piece of answer text to append (zero or more);
- `answer` — the full JSON of `POST /api/v1/ask` (answer, citations, sources, optional notice),
  exactly once, last. It is authoritative: show its `answer` in place of the deltas.
- `error` — `{"message": "…"}` instead of `answer` when the answer failed mid-stream.
Bad input is refused before the stream starts, with the same 422 as `/api/v1/ask`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from rag.answering.streaming import FinalAnswer, StreamEvent, TextDelta
from rag.errors import NewsragError
from rag.http.deps import AskRequest, ServiceDep, ask_arguments

router = APIRouter(tags=["questions"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event; `data` is sent as compact JSON on one line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def ask_events(events: Iterable[StreamEvent]) -> Iterator[str]:
    """Service events as the SSE of `/api/v1/ask/stream`."""
    try:
        for event in events:
            if isinstance(event, TextDelta):
                yield sse({"text": event.text}, "delta")
            elif isinstance(event, FinalAnswer):
                yield sse(event.answer.model_dump(mode="json"), "answer")
    except NewsragError as exc:
        yield sse({"message": str(exc)}, "error")


@router.post(
    "/api/v1/ask/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`delta` events with answer text, then one `answer` event with "
            "the full JSON of /api/v1/ask (authoritative), or an `error` event.",
        }
    },
)
def ask_stream(body: AskRequest, svc: ServiceDep) -> StreamingResponse:
    """Answer a question as server-sent events: text as it is produced, then the full answer."""
    events = svc.ask_stream(body.question, **ask_arguments(body))
    return StreamingResponse(
        ask_events(events), media_type="text/event-stream", headers=SSE_HEADERS
    )
