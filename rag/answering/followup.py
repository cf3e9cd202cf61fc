"""Where a follow-up's answer usually is: in or next to the previous answer's sentences.

A conversation about an article reads on from where the last answer stood: "Ha aggiunto
altro?", "What did the emperor do then?", "E all'inizio come si chiamava?" are answered
by the sentence after (or before) the one just quoted more often than by a sentence
that merely shares their few words. And a follow-up that asks for a name, a place, a
number or a date ("E di che partito è?", "How old was he?") is often answered by the
quoted sentence itself, when it holds one the conversation has not asked about.

So the quoted sentences' neighbourhoods join the answer's candidates, and a sentence
gains a bonus by its distance (in sentences) from a quoted one; the quoted sentence
itself gains it only when it holds words of the kind the question asks for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from rag.answering.span import candidates, span_kind
from rag.retrieval.focus import Quote
from rag.retrieval.passages import nearby_sentences
from vectorstore.documents import Chunk

REACH = 2  # sentences on each side of a quoted one
NEAR_BONUS = 0.2  # added to the score of a sentence next to a quoted one (half at two)
_REACH_CHARS = 1500  # how far around a quote its neighbours are looked for


SentenceKey = tuple[str, int]  # (doc_id, the sentence's offset in the article body)


@dataclass(frozen=True)
class Neighbourhood:
    """The passages around the previous answer's quotes, and each of their sentences'
    distance (in sentences) from the nearest quote, with its end in the body."""

    passages: list[Chunk]
    distance: dict[SentenceKey, tuple[int, int]]


def around(quotes: Sequence[Quote], bodies: Mapping[str, str]) -> Neighbourhood:
    """The sentences within REACH of each quote, as one passage per quote. A quote whose
    article no longer holds it at its offsets (changed since) is skipped."""
    passages: list[Chunk] = []
    distance: dict[SentenceKey, tuple[int, int]] = {}
    for quote in quotes:
        doc = quote.chunk.doc_id
        body = bodies.get(doc, "")
        offset = quote.start - quote.chunk.start
        if (
            body[quote.start : quote.end]
            != quote.chunk.text[offset : offset + quote.end - quote.start]
        ):
            continue
        spans = nearby_sentences(body, quote.start, quote.end, _REACH_CHARS)
        at = next((i for i, (s, e) in enumerate(spans) if s <= quote.start < e), None)
        if at is None:
            continue
        window = spans[max(0, at - REACH) : at + REACH + 1]
        for i, (s, e) in enumerate(window, start=max(0, at - REACH)):
            d = min(distance.get((doc, s), (REACH + 1, e))[0], abs(i - at))
            distance[(doc, s)] = (d, e)
        start, end = window[0][0], window[-1][1]
        passages.append(
            dataclasses.replace(quote.chunk, start=start, end=end, text=body[start:end])
        )
    return Neighbourhood(passages, distance)


@dataclass(frozen=True)
class Leads:
    """What the neighbourhood adds to a follow-up's sentence scores: a bonus per sentence,
    and the quoted sentences that hold the kind of words asked for (they may answer
    though the question's own words are not in them: "E chi c'era a bordo campo?")."""

    bonus: dict[SentenceKey, float]
    answering: frozenset[SentenceKey]
    quoted: frozenset[SentenceKey] = frozenset()  # the quotes (verbatim or paraphrased)


def leads(question: str, known: Set[str], near: Neighbourhood, bodies: Mapping[str, str]) -> Leads:
    """Each neighbouring sentence's bonus (nearness_bonus; those without one left out), the
    quotes that may answer (their bonus says they hold the kind of words asked for) and
    all the quotes."""
    found = {
        (doc, start): (d, nearness_bonus(question, known, d, bodies[doc][start:end]))
        for (doc, start), (d, end) in near.distance.items()
    }
    return Leads(
        {key: value for key, (_, value) in found.items() if value > 0},
        frozenset(key for key, (d, value) in found.items() if d == 0 and value > 0),
        frozenset(key for key, (d, _) in found.items() if d == 0),
    )


def nearness_bonus(question: str, known: Set[str], distance: int, sentence: str) -> float:
    """The bonus of a sentence `distance` sentences from a quoted one: NEAR_BONUS next to
    it, half two away; for the quoted sentence itself NEAR_BONUS when the question asks for
    a kind of words (rag.answering.span) and the sentence holds some that are not the
    conversation's own (`known`: its term stems), else nothing."""
    if distance > REACH:
        return 0.0
    if distance == 0:
        kind = span_kind(question)
        return NEAR_BONUS if kind and candidates(sentence, kind, set(known)) else 0.0
    return NEAR_BONUS / distance
