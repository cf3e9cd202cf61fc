"""Where a follow-up's answer usually is: in or next to the previous answer's sentences.

A conversation about an article reads on from where the last answer stood: "Ha aggiunto
altro?", "What did the emperor do then?", "E all'inizio come si chiamava?" are answered
by the sentence after (or before) the one just quoted more often than by a sentence
that merely shares their few words. And a follow-up that asks for a name, a place, a
number or a date ("E di che partito è?", "How old was he?") is often answered by the
quoted sentence itself, when it holds one the conversation has not asked about.

So the quoted sentences' neighbourhoods join the answer's candidates, and a sentence
gains a bonus by its distance (in sentences) from a quoted one; the quoted sentence
itself gains it only when it holds words of the kind the question asks for, or most of
the words the follow-up asks about that no earlier question did: after "Quante nazioni
hanno promesso garanzie?", "Su quali fronti opererebbero le forze internazionali?" asks
about a part of the quote ("forze internazionali operative su terra, mare e aria").

A fragment that only names what the conversation turns to ("E Macron?", "And in Paris?",
"E nel 2010?") asks what the last real question asked: after "Quante truppe…?", a number.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

import bm25s.stopwords as stopwords

from rag.answering.span import candidates, span_kind
from rag.retrieval.focus import Quote, turns
from rag.retrieval.lexical import STOPWORDS, analyze
from rag.retrieval.passages import nearby_sentences
from vectorstore.documents import Chunk

REACH = 2  # sentences on each side of a quoted one
NEAR_BONUS = 0.2  # added to the score of a sentence next to a quoted one (half at two)
NEW_WORDS_SHARE = 0.5  # of the follow-up's new words' weight a quote must hold to answer again
_REACH_CHARS = 1500  # how far around a quote its neighbours are looked for


# How a fragment opens: "and", or "what about", in the five languages told apart (the
# longer openers first: "And what about Macron?" holds no asking word of its own).
_FRAGMENT_OPENER = re.compile(
    r"^\W*(?:and what about|and how about|what about|how about|e invece|ed|e|invece|anche|and"
    r"|et|y|und)\b",
    re.IGNORECASE,
)
# The words that ask something, which a fragment has none of ("E quando?" asks for a time).
_ASKING_WORDS = frozenset(
    "chi cosa cos che quando dove dov perché perche come qual quale quali quanto quanta quanti "
    "quante who whom whose what when where why how which qui que quoi quand où pourquoi "
    "comment quel quelle quels quelles combien lequel laquelle qué quién quiénes cuándo dónde "
    "porqué cómo cuál cuáles cuánto cuánta cuántos cuántas wer wen wem wessen was wann wo "
    "warum wieso weshalb wie welche welcher welches welchen woher wohin wieviel".split()
)
# Words asking what came next ("E poi?", "And then?"): a question of its own, not a fragment.
_NEXT_WORDS = frozenset(
    "poi dopo allora then next afterwards after puis ensuite après después luego dann danach "
    "später".split()
)
# Function words a fragment may hold besides names and figures ("nel", "on the", "à").
_FRAGMENT_WORDS = (
    (
        STOPWORDS
        | frozenset(stopwords.STOPWORDS_EN)
        | frozenset(stopwords.STOPWORDS_FRENCH)
        | frozenset(stopwords.STOPWORDS_SPANISH)
        | frozenset(stopwords.STOPWORDS_GERMAN)
    )
    - _ASKING_WORDS
    - _NEXT_WORDS
)
_WORD = re.compile(r"\w+")

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
    # the quotes holding what the follow-up asks about (holds_new_words): not "said" again
    asked_about: frozenset[SentenceKey] = frozenset()


def new_terms(
    terms: Mapping[str, float], question: str, history: Sequence[Mapping[str, str]]
) -> dict[str, float]:
    """The question's own weighted `terms` that no earlier user turn asked: what a
    follow-up asks about beyond the conversation's questions (the previous answer's words
    count: asking about them is asking about that answer)."""
    asked = {t for text in turns(history, "user") for t in analyze(text)}
    own = set(analyze(question)) - asked
    return {t: w for t, w in terms.items() if t in own}


def holds_new_words(sentence: str, new: Mapping[str, float]) -> bool:
    """Whether `sentence` holds NEW_WORDS_SHARE of the weight of the follow-up's `new` terms."""
    total = sum(new.values())
    stems = set(analyze(sentence))
    return total > 0 and sum(w for t, w in new.items() if t in stems) >= NEW_WORDS_SHARE * total


def leads(
    question: str,
    known: Set[str],
    near: Neighbourhood,
    bodies: Mapping[str, str],
    new: Mapping[str, float] | None = None,
) -> Leads:
    """Each neighbouring sentence's bonus (nearness_bonus; those without one left out), the
    quotes that may answer (their bonus says they hold the kind of words asked for, or the
    question's `new` terms: new_terms) and all the quotes."""
    texts = {
        (doc, start): bodies[doc][start:end] for (doc, start), (_, end) in near.distance.items()
    }
    found = {
        key: (d, nearness_bonus(question, known, d, texts[key], new))
        for key, (d, _) in near.distance.items()
    }
    quotes = [key for key, (d, _) in found.items() if d == 0]
    return Leads(
        {key: value for key, (_, value) in found.items() if value > 0},
        frozenset(key for key in quotes if found[key][1] > 0),
        frozenset(quotes),
        frozenset(key for key in quotes if new and holds_new_words(texts[key], new)),
    )


def nearness_bonus(
    question: str,
    known: Set[str],
    distance: int,
    sentence: str,
    new: Mapping[str, float] | None = None,
) -> float:
    """The bonus of a sentence `distance` sentences from a quoted one: NEAR_BONUS next to
    it, half two away; for the quoted sentence itself NEAR_BONUS when the question asks for
    a kind of words (rag.answering.span) and the sentence holds some that are not the
    conversation's own (`known`: its term stems), or when it holds most of the question's
    `new` terms (holds_new_words), else nothing."""
    if distance > REACH:
        return 0.0
    if distance == 0:
        kind = span_kind(question)
        typed = bool(kind and candidates(sentence, kind, set(known)))
        return NEAR_BONUS if typed or (new and holds_new_words(sentence, new)) else 0.0
    return NEAR_BONUS / distance


def opens_with_and(question: str) -> bool:
    """Whether `question` opens with "e", "and", "what about"… ("E quanti ne manderebbe la
    Francia?"): it sets what it names against the last exchange's subject."""
    return bool(_FRAGMENT_OPENER.match(question))


def is_fragment(question: str) -> bool:
    """Whether `question` only names what the conversation turns to: it opens with "e",
    "and", "what about"… and its other words are names, figures and function words, none
    of them an asking word ("E Macron?", "And on the BBC?", "E a Napoli nel 1656?"; not
    "E quando?", "E poi?", "E la più bassa?" nor "E Macron era d'accordo?")."""
    opener = _FRAGMENT_OPENER.match(question)
    if not opener:
        return False
    words = _WORD.findall(question[opener.end() :])
    return bool(words) and all(
        w[0].isupper() or w[0].isdigit() or w.lower() in _FRAGMENT_WORDS for w in words
    )


def asking_question(question: str, history: Sequence[Mapping[str, str]]) -> str:
    """The question whose asking words say what kind of answer `question` wants: itself,
    or for a fragment (is_fragment) the conversation's last user question that is none."""
    if not is_fragment(question):
        return question
    for message in reversed(history):
        text = message.get("content", "")
        if message.get("role") == "user" and text and not is_fragment(text):
            return text
    return question
