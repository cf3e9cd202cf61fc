"""Answers as a stream of events: text deltas as the answer is produced, then the final answer.

Every answerer (extractive or LLM) speaks this one protocol, so the API's SSE route,
the OpenAI-compatible endpoint and the Gradio chat stream the same way. The deltas
concatenate to the final answer's text whenever the answer is complete; the final
event is authoritative (it also carries citations, sources and any notice).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import Field

from rag.answering.extractive import Answer
from vectorstore.documents import Chunk

WORDS_PER_DELTA = 3  # the extractive answer exists at once; it is sent a few words at a time


class AnswerWithNotice(Answer):
    """An answer plus an optional notice: why it fell back to extractive, or what was dropped.

    `notice` is omitted from the JSON when there is none, so the stable contract of
    `POST /api/v1/ask` is unchanged for the default (extractive) answerer.
    """

    notice: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="set when the answer is not what was asked for (for example the language "
        "model was unreachable and the answer is extractive, or unsupported sentences were "
        "dropped)",
    )


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text, to append to what came before."""

    text: str


@dataclass(frozen=True)
class FinalAnswer:
    """The last event: the complete, checked answer (authoritative over the deltas)."""

    answer: Answer


StreamEvent = TextDelta | FinalAnswer


@dataclass(frozen=True)
class Evidence:
    """What an answerer gets for one question: the retrieved chunks and how to reach the rest.

    `extractive` computes the default answer (also the fallback of generative answerers);
    `bodies` returns the stored article bodies (for verbatim quotes) of the given ids;
    `idf` weighs a stemmed term by its rarity in the collection.
    """

    question: str
    history: Sequence[Mapping[str, str]]
    ranked: Sequence[tuple[Chunk, float]]
    top_k: int
    extractive: Callable[[], Answer]
    bodies: Callable[[Sequence[str]], dict[str, str]]
    idf: Callable[[str], float]


class Answerer(Protocol):
    """Turns evidence into events: deltas, then exactly one `FinalAnswer`."""

    def stream(self, evidence: Evidence) -> Iterator[StreamEvent]: ...


class ExtractiveAnswerer:
    """The default: verbatim sentences (rag.answering.extractive), sent a few words at a time."""

    def stream(self, evidence: Evidence) -> Iterator[StreamEvent]:
        yield from answer_events(evidence.extractive())


_PIECE = re.compile(r"\S+\s*")


def text_pieces(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """`text` cut into pieces of a few words each; the pieces concatenate to `text`."""
    if not text:
        return []
    lead = text[: len(text) - len(text.lstrip())]
    tokens = _PIECE.findall(text)
    pieces = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    if lead:
        pieces = [lead + pieces[0], *pieces[1:]] if pieces else [lead]
    return pieces


def answer_events(answer: Answer) -> Iterator[StreamEvent]:
    """An answer that exists already, as deltas of its text and the final event."""
    for piece in text_pieces(answer.answer):
        yield TextDelta(piece)
    yield FinalAnswer(answer)


def final_answer(events: Iterable[StreamEvent]) -> Answer:
    """The answer a stream ends with (consumes the stream)."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, FinalAnswer):
            final = event.answer
    if final is None:
        raise RuntimeError("the answer stream ended without its final answer")
    return final
