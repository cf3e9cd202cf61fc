"""Answers as chat Markdown: the answer, then numbered citations with title, date and quote."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rag.answer import Answer
from rag.streaming import FinalAnswer, StreamEvent, TextDelta

SOURCES_HEADING = "**Fonti**"


def format_answer(answer: Answer) -> str:
    """Markdown for one answer; quotes are escaped so article text never renders as markup."""
    notice = getattr(answer, "notice", None)
    head = [f"*{html.escape(notice, quote=False)}*", ""] if notice else []
    if answer.abstained or not answer.citations:
        return "\n".join([*head, html.escape(answer.answer, quote=False)])
    lines = [*head, html.escape(answer.answer, quote=False), "", SOURCES_HEADING]
    for c in answer.citations:
        when = f", {c.date}" if c.date else ""
        quote = html.escape(c.quote, quote=False)
        lines.append(
            f"{c.n}. *{html.escape(c.title, quote=False)}*{when} — {c.source} "
            f"[{c.start}–{c.end}]  \n   > {quote}"
        )
    return "\n".join(lines)


def format_events(events: Iterable[StreamEvent]) -> Iterator[str]:
    """The chat message as it grows: the text so far, then the formatted final answer."""
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text += event.text
            yield html.escape(text, quote=False)
        elif isinstance(event, FinalAnswer):
            yield format_answer(event.answer)


def message_text(content: Any) -> str:
    """Plain text of a Gradio message, whose content may be a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, Sequence):
        return " ".join(message_text(part) for part in content)
    return ""


def history_for_service(history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Gradio chat history to the service's, without the citation lists of past answers."""
    turns = []
    for message in history:
        role = message.get("role")
        if role in ("user", "assistant"):
            text = message_text(message.get("content", ""))
            turns.append({"role": role, "content": text.split(SOURCES_HEADING)[0].strip()})
    return turns
