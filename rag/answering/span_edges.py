"""Where an answer's span starts and ends: a name with the words its run finder cuts off
(an opening word, an initial, "& Co.", a particle between two runs, an organisation's head
noun), a figure with the rest of its range and its time unit. rag.answering.span chooses
the span; these widen it, each a slice of the same sentence.
"""

from __future__ import annotations

import re

from rag.retrieval.answer_types import AGE, DURATION, MONEY, NUMBER, PERCENT
from rag.retrieval.dates import MONTHS, WEEKDAYS
from rag.retrieval.lexical import STOPWORDS, analyze
from rag.retrieval.names import opens_sentence

COUNTS = (NUMBER, PERCENT, AGE, DURATION, MONEY)  # kinds answered by a number


# Words that open a sentence with a capital yet name nothing: adverbs, connectives and
# prepositions the project's STOPWORDS lack ("Ieri Trump…", "Durante Guglielmo…").
OPENERS = frozenset(
    """
    ieri oggi domani stamattina stasera tuttavia intanto durante dopo prima mentre nonostante
    ora allora infine oltre sebbene benché benchè sotto sopra alcuni alcune entrambi entrambe
    successivamente pertanto comunque finora
    yesterday today tomorrow however meanwhile after before during although though while
    since then also later earlier despite following under both some many most
    """.split()
)
# The name run's first word, when it opens the sentence or follows a colon (name_spans
# leaves it out: such a capital says nothing), and what follows its end: an initial
# ("Daniel B. Burke") or a company's "& Co.".
_WORD_BEFORE = re.compile(r"(?<![\w’'])([A-ZÀ-Ý][\w-]*)\s+$")
_ENDS_IN_INITIAL = re.compile(r"\b(?:[A-Z]|St|Mt|Ft|Dr)$")  # "Daniel B.", "St. Johns"
_AFTER_INITIAL = re.compile(r"^\.\s+(?:[A-Z]\.\s+)*[A-ZÀ-Ý][\w-]*(?:\s+[A-ZÀ-Ý][\w-]*)*")
_AMPERSAND = re.compile(r"^\s+&\s+[A-ZÀ-Ý][\w-]*\.?")


def whole_name(sentence: str, start: int, end: int, known: set[str]) -> tuple[int, int]:
    """The name at (`start`, `end`) with the words its run finder cuts off: the word before
    it that opens the sentence or follows a colon, unless a function word, an adverb or a
    date ("Thomas Sowell, nel suo libro…" gives "Thomas Sowell", not "Sowell"; "Ieri Trump"
    stays "Trump"), and an initial, an abbreviation or "& Co." after it ("Daniel B. Burke",
    "St. Johns", "Caris & Co.");
    none of the question's own words (`known`) is added."""
    opening = _WORD_BEFORE.search(sentence[:start])
    if opening and opens_sentence(sentence, opening.start(1)):
        word = opening.group(1)
        lower = word.lower()
        plain = (
            lower in STOPWORDS
            or lower in OPENERS
            or lower in MONTHS
            or lower in WEEKDAYS
            or lower.endswith(("mente", "ly"))
        )
        if not plain and not set(analyze(word)) & known:
            start = opening.start(1)
    tail = None
    if _ENDS_IN_INITIAL.search(sentence[start:end]):
        tail = _AFTER_INITIAL.match(sentence[end:])
    tail = tail or _AMPERSAND.match(sentence[end:])
    if tail and not set(analyze(tail.group(0))) & known:
        end += tail.end()
    return start, end


# The end of a range after its first figure ("100-150", "5–8").
_RANGE_END = re.compile(r"^\s?[-–]\s?\d+(?:[.,]\d+)*(?![\w-])")
# The unit after an age's or a duration's figure ("tre anni", "25 minuti", "two weeks").
_UNIT_AFTER = re.compile(
    r"^\s+(?:di\s+)?(?:second[io]|minut[oi]|or[ae]|giorn[oi]|nott[ei]|settiman[ae]|mes[ei]|"
    r"ann[oi]|decenn[io]|secol[oi]|millenn[io]|seconds?|minutes?|hours?|days?|nights?|weeks?|"
    r"months?|years?|decades?|centuries|century)\b",
    re.IGNORECASE,
)


# Lower-case words inside a name: "Guy de Lusignan", "Guglielmo il Conquistatore".
_PARTICLE = re.compile(
    r"\s+(?:de|di|da|del|della|dei|degli|van|von|der|den|la|le|il|lo|bin|y|e)\s+$"
)


def joined(sentence: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Name runs joined across one particle between them ("Guy" + "de" + "Lusignan")."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and _PARTICLE.fullmatch(" " + sentence[out[-1][1] : start]):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


# A capitalised head noun and "di" before a name ("Università di Newcastle").
_HEAD_BEFORE = re.compile(r"(?<![\w'’])([A-ZÀ-Ý][\w-]*)\s+(?:di|del|della|dei|degli|of)\s+$")


def with_head(sentence: str, start: int, end: int) -> tuple[int, int]:
    """An organisation's name with the capitalised head noun and "di" before it, most often
    the question's own word, which had cut it off ("Quale università…?": "Università di
    Northumbria", not "Northumbria"). Restricted to heads the question names, the dev half's
    organisations held the gold once fewer (eval.span_report, stop 41)."""
    head = _HEAD_BEFORE.search(sentence[:start])
    return (head.start(1), end) if head else (start, end)


def whole_figure(
    kind: str, sentence: str, span: tuple[int, int], known: set[str]
) -> tuple[int, int]:
    """A count's chosen figure with the rest of its range ("100-150 specie" → "100-150"), and
    an age's or a duration's with its time unit when the question does not say it ("Quanto
    tempo è durato?" → "25 minuti"; "Quanti anni aveva?" → "39"): added after the choice, so
    that the unit, a question word, does not change which figure is closest."""
    start, end = span
    if kind in COUNTS:
        rest = _RANGE_END.match(sentence[end:])
        end += rest.end() if rest else 0
    if kind in (AGE, DURATION):
        unit = _UNIT_AFTER.match(sentence[end:])
        if unit and not set(analyze(unit.group(0))) & known:
            return start, end + unit.end()
    return start, end
