"""Expected answer types: a "quanti…?" question needs a number, a "quando…?" one a time.

A sentence without anything of the expected type cannot answer the question, so
such sentences lose to ones that have it, and when none of the evidence has it,
the question is not answered.
"""

from __future__ import annotations

import re

_MONTHS = (
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre january february march april may june july august september october november "
    "december"
)
_TIME_WORDS = (
    "lunedì martedì mercoledì giovedì venerdì sabato domenica ieri oggi domani stamattina "
    "stasera settimana settimane mese mesi anno anni secolo secoli decennio giorno giorni "
    "dopo prima durante mentre quando allora fine inizio metà"
)
# Cardinal number words, compounds included ("ventisei", "duemila"); not "una"/"uno",
# which are mostly articles, nor "secondo", which mostly means "according to".
_NUMBER_WORDS = (
    r"due|tre|quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|tredici|quattordici|"
    r"quindici|sedici|diciassette|diciotto|diciannove|vent[aeiou]\w*|trent[aeiou]\w*|"
    r"quarant\w*|cinquant\w*|sessant\w*|settant\w*|ottant\w*|novant\w*|cent[oi]\w*|"
    r"mille|\w+mila|migliai\w*|milion\w*|miliard\w*|decine|dozzin\w*|doppio|triplo|"
    r"two|three|four|five|six|seven|eight|nine|ten|hundred\w*|thousand\w*|million\w*"
)
_DIGIT = re.compile(r"\d")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_NUMBER_RE = re.compile(r"\b(" + _NUMBER_WORDS + r")\b", re.IGNORECASE)
_TIME_RE = re.compile(
    r"\b(" + "|".join((_MONTHS + " " + _TIME_WORDS).split()) + r")\b", re.IGNORECASE
)

NUMBER = "number"
TIME = "time"

_QUESTION_TYPES = [
    (TIME, re.compile(
        r"\b(quando|in che anno|in quale anno|in che data|in quale data|che giorno|quale giorno|"
        r"in che mese|in quale mese|in che secolo|when|what year|which year|what date)\b",
        re.IGNORECASE,
    )),
    (NUMBER, re.compile(
        r"\b(quant[oaie]|quanti|quante|how many|how much|che percentuale|quale percentuale)\b",
        re.IGNORECASE,
    )),
]  # fmt: skip


def expected_type(question: str) -> str | None:
    """`NUMBER`, `TIME` or None (anything goes) for a question."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    """Whether `sentence` contains something of the expected kind."""
    if kind is None:
        return True
    if kind == NUMBER:
        return bool(_DIGIT.search(sentence) or _NUMBER_RE.search(sentence))
    return bool(_YEAR.search(sentence) or _TIME_RE.search(sentence))
