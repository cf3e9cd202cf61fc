"""A scripted OpenAI-compatible chat server on loopback: the one fake the suite needs (no real
LLM exists here). It speaks the real wire protocol — `POST /v1/chat/completions`, plain JSON or
server-sent `chat.completion.chunk` events ending in `data: [DONE]` — and records every request."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def sources(request: dict[str, Any]) -> dict[int, str]:
    """The numbered source blocks of a newsrag prompt: {n: block text}."""
    prompt = request["messages"][-1]["content"]
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'<source n="(\d+)">\n(.*?)\n</source>', prompt, re.DOTALL)
    }


def source_with(request: dict[str, Any], needle: str) -> int:
    """The number of the first source block containing `needle`."""
    return next(n for n, text in sources(request).items() if needle in text)


@dataclass
class Reply:
    """What the server answers next: `text` (or `text(request)`), after `delay` seconds, in
    pieces of `piece` characters; with `stall_after` set, the stream stops for `delay`
    seconds after that many pieces instead."""

    text: str | Callable[[dict[str, Any]], str]
    delay: float = 0.0
    piece: int = 7
    stall_after: int | None = None
    status: int = 200


class FakeLLM:
    """`reply` is used for every request until changed; `requests` holds their JSON bodies."""

    def __init__(self) -> None:
        self.reply = Reply("")
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                reply = fake.reply
                if reply.delay and reply.stall_after is None:
                    time.sleep(reply.delay)
                text = reply.text(body) if callable(reply.text) else reply.text
                if reply.status != 200:
                    self._json(reply.status, {"error": {"message": "scripted failure"}})
                elif body.get("stream"):
                    self._stream(body["model"], reply, text)
                else:
                    self._json(200, completion(body["model"], text))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str, reply: Reply, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                pieces = [text[i : i + reply.piece] for i in range(0, len(text), reply.piece)]
                deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
                try:
                    for i, delta in enumerate(deltas):
                        if reply.stall_after is not None and i == reply.stall_after + 1:
                            time.sleep(reply.delay)
                        self._event(chunk(model, delta, None))
                    self._event(chunk(model, {}, "stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        return Handler


def completion(model: str, text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
