"""Expected answer types: a "quanti…?" question needs a number, a "quando…?" one a time,
a "quanto costa…?" one a sum, an "in quale città…?" one a place's name.

A sentence without anything of the expected type cannot answer the question, so
such sentences lose to ones that have it, and when none of the evidence has it,
the question is not answered.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

from rag.retrieval.lexical import analyze
from rag.retrieval.names import PLACE_NOUNS, name_spans, place_names, roots

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
# mostly articles.
_CARDINALS = (
    r"due|tre|quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|tredici|quattordici|"
    r"quindici|sedici|diciassette|diciotto|diciannove|vent[aeiou]\w*|trent[aeiou]\w*|"
    r"quarant\w*|cinquant\w*|sessant\w*|settant\w*|ottant\w*|novant\w*|"
    r"(?:due|tre|quattro|cinque|sei|sette|otto|nove)?cent[oi]\w*"
)
# An ordinal says how many only as a fraction ("un terzo", "due quinti") or of what is
# counted: "al suo terzo anno" answers "da quanti anni…?", not "quante vittime…?".
_ORDINALS = r"(?:terz|quart|quint|sest|settim|ottav|non|decim)"
_FRACTION = r"(?:un|\d+|" + _CARDINALS + r")\s+" + _ORDINALS + r"[oi]"
_ORDINAL_OF = re.compile(r"\b" + _ORDINALS + r"[oaie]\s+(\w+)", re.IGNORECASE)
_NUMBER_WORDS = (
    _CARDINALS + "|" + _FRACTION + "|"
    r"mille|\w+mila|migliai\w*|milion\w*|miliard\w*|decine|dozzin\w*|doppio|triplo|"
    r"two|three|four|five|six|seven|eight|nine|ten|hundred\w*|thousand\w*|million\w*"
)
NUMBER_WORDS = _NUMBER_WORDS  # for rag.answering.span
_DIGIT = re.compile(r"\d")
YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"  # a year as news writes it
_YEAR = re.compile(r"\b" + YEAR + r"\b")
_NUMBER_RE = re.compile(r"\b(" + _NUMBER_WORDS + r")\b", re.IGNORECASE)
_TIME_RE = re.compile(
    r"\b(" + "|".join((_MONTHS + " " + _TIME_WORDS).split()) + r")\b", re.IGNORECASE
)

_FULL_DATE = re.compile(
    r"\b([0-3]?\d\s+(" + "|".join(_MONTHS.split()) + r")"
    r"|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d\d-\d\d)\b",
    re.IGNORECASE,
)

# "non ha fornito dettagli", "non hanno precisato", "did not disclose": the figure asked for
# is, in the article's words, not known.
_NOT_GIVEN = re.compile(
    r"\bnon\s+(?:ha|hanno|è\s+stat[oa]|sono\s+stat[ie]|ha\s+ancora|hanno\s+ancora)\s+"
    r"(?:fornit|precisat|specificat|indicat|rivelat|comunicat|chiarit|quantificat|detto)\w*"
    r"|\b(?:did|does|do)\s+not\s+(?:give|specify|disclose|say|reveal|provide)\b",
    re.IGNORECASE,
)

# "a 17 anni", "all'età di", "il quarantenne": how old someone is.
_AGE = re.compile(
    r"\b(?:\d+|" + _NUMBER_WORDS + r")\s+anni\b|\bet[àa]\b|\w{4,}(?<!mill)enn[ei]\b",
    re.IGNORECASE,
)
_UNITS = r"(?:second|minut|or[ae]\b|giorn|nott|settiman|mes[ei]\b|ann[oi]\b|decenn|secol|millenn)"
# "per tre ore", "45 minuti", "un'ora", "dal 1979", "dagli anni Sessanta", "3:08": how long.
# Not "da diverse settimane": no more a figure than "molte nazioni" is a number.
_DURATION = re.compile(
    r"\b(?:\d+|"
    + _NUMBER_WORDS
    + r"|un|una|un'|mezz['’]?)\W+(?:\w+\W+)?"
    + _UNITS
    + r"|\bdal(?:l['’])?\s*(?:\w+\s+)?"
    + YEAR
    + r"\b|\b"
    + YEAR
    + r"\s*(?:-|–|al|a)\s*"
    + YEAR
    + r"\b|\bdagli\s+anni\b|\b\d{1,2}:\d\d\b",
    re.IGNORECASE,
)
# "£ 10", "8 miliardi di dollari", "gratuitamente": what something costs.
_MONEY = re.compile(
    r"[$€£¥]|\b(?:dollar\w*|euro|sterlin\w*|lir[ae]|franchi|yen|yuan|rubl\w*|fiorin\w*|"
    r"ducat\w*|scellin\w*|centesim\w*|pence|penny|usd|eur|gbp|gratuit\w*|gratis)\b",
    re.IGNORECASE,
)

# "nel 1347", "nel 476", "nel XIV secolo", "negli anni' 80": the year asked for, or its
# decade or century (SQuAD-it dev: the gold answer holds one for all 106 "in che anno…?").
_YEAR_GIVEN = re.compile(
    r"\b" + YEAR + r"\b"
    r"|\b(?:nel|del|dal|al|anno|entro)\s+\d{2,3}\b|\bsecol[oi]\b|\banni\W*\d0\b",
    re.IGNORECASE,
)

PERCENT_SIGN = re.compile(r"%|\bper\s*cento\b|\bpercent\b", re.IGNORECASE)

LEAD_WORDS = 3  # an asking word further into the question belongs to a clause

NUMBER = "number"
AGE = "age"  # "quanti anni aveva…?", "how old…?": a count of years, an "età", a "-enne"
DURATION = "duration"  # "quanto è durata…?", "how long did…?": a count of time units
MONEY = "money"  # "quanto costa…?", "how much does it cost?": a sum in a currency
TIME = "time"
# "in che anno…?", "what year…?": a year in figures (or a decade, a century), where TIME
# takes any word of time ("dopo", "giorno")
CALENDAR_YEAR = "year"
DATE = "date"  # an exact date: a day and a month
PLACE = "place"  # a city, country, region…: a name the question does not already hold
ORGANISATION = "organisation"  # a company, team, university…: a name, as for a place
PERCENT = "percent"  # a share: "17%", "il 40 per cento"

# Nouns whose answer is a proper name (SQuAD-it dev: the gold sentence holds a name the
# question does not for 57 of 58 such questions; "gruppo", "ente", "governo" often do not,
# nor "partito": Italian writes "il partito laburista").
ORG_NOUNS = (
    "agenzia agenzie azienda aziende società squadra squadre club università giornale giornali "
    "quotidiano emittente banca banche compagnia editrice federazione "
    "agency company companies team university newspaper bank federation"
)


# "Which…" in the questions' five languages, before the noun of what is asked for.
ASKING_WHICH = (
    r"\b(?:quale|quali|che|which|what|quel|quelle|quels|quelles|qué|cuál|cuáles|"
    r"welche[rsmn]?)\s+"
)


def asking_for(nouns: str) -> re.Pattern[str]:
    """ "quale / che / which / what" and one of `nouns`: a question asking for such a thing."""
    return re.compile(
        r"\b(?:quale|quali|che|which|what)\s+(?:" + "|".join(nouns.split()) + r")\b",
        re.IGNORECASE,
    )


_QUESTION_TYPES = [
    # Italian and English, then French, Spanish and German (the questions' other languages).
    (DATE, re.compile(
        r"\b(in che data|in quale data|che data|quale data|data esatta|what date|on what day|"
        r"quelle date|à quelle date|qué fecha|en qué fecha|welches datum|an welchem tag)\b",
        re.IGNORECASE,
    )),
    (CALENDAR_YEAR, re.compile(
        r"\b(che anno|quale anno|what year|which year|quelle année|qué año|welchem jahr)\b",
        re.IGNORECASE,
    )),
    (TIME, re.compile(
        r"\b(quando|che giorno|quale giorno|in che mese|in quale mese|in che secolo|when|"
        r"what date|quand|cuándo|wann|seit wann|bis wann)\b",
        re.IGNORECASE,
    )),
    (PERCENT, re.compile(
        r"\b(che percentuale|quale percentuale|in che percentuale|what percentage|"
        r"which percentage|what percent|quel pourcentage|qué porcentaje|wie viel prozent|"
        r"wieviel prozent)\b",
        re.IGNORECASE,
    )),
    (AGE, re.compile(
        r"\b(quanti anni (?:ha|hanno|aveva|avevano|avrà|avrebbe|avesse|compie|compirà)|"
        r"che età|quale età|a che età|a quale età|how old|at what age|what age|quel âge|"
        r"à quel âge|qué edad|a qué edad|cuántos años (?:tiene|tenía|tenían|tienen|cumple)|"
        r"wie alt|in welchem alter|mit welchem alter)\b",
        re.IGNORECASE,
    )),
    (DURATION, re.compile(
        r"\b(quanto tempo|quanto (?:è|e'|sono|era|erano|fu|furono) durat[oaie]|"
        r"quanto dur(?:a|ano|ò|arono|ava|avano|erà)|how long (?:did|does|do|has|have|had|will|"
        r"would|can|could)|combien de temps|cuánto tiempo|cuánto dur(?:a|ó|aron|aba)|"
        r"wie lange)\b",
        re.IGNORECASE,
    )),
    (MONEY, re.compile(
        r"\b(quanto (?:cost\w*|(?:è|e'|sono|era|erano) costat\w*)|quanto (?:ha|hanno|aveva|"
        r"avevano) (?:pagato|speso|incassato)|quanti soldi|quanto denaro|a che prezzo|"
        r"how much (?:money|(?:does|did|do|will|would)\b.{0,60}?\b(?:cost|pay|charge|spend))|"
        r"combien (?:coûte|coûtent|coûtait|a coûté)|cuánto (?:cuesta|cuestan|costó|costaba|"
        r"pagó|pagaron)|(?:wie ?viel|was) (?:kostet|kosten|kostete))\b",
        re.IGNORECASE,
    )),
    (NUMBER, re.compile(
        r"\b(quant[oaie]|quanti|quante|how many|how much|how old|how long|che età|"
        r"combien|quel âge|cuánt[oa]s?|qué edad|wie viele?|wieviel|wie alt)\b",
        re.IGNORECASE,
    )),
    (PLACE, re.compile(
        ASKING_WHICH + r"(?:" + "|".join(PLACE_NOUNS.split()) + r")\b", re.IGNORECASE
    )),
    (ORGANISATION, asking_for(ORG_NOUNS)),
]  # fmt: skip


def expected_type(question: str) -> str | None:
    """`DATE`, `CALENDAR_YEAR`, `TIME`, `PERCENT`, `AGE`, `DURATION`, `MONEY`, `NUMBER`,
    `PLACE`, `ORGANISATION` or None (anything goes) for a question."""
    found = _asking(question)
    return found[0] if found else None


def asking_words(question: str) -> tuple[int, int] | None:
    """Where the words saying what kind of answer is wanted are ("in che anno", "quale
    città", "quanti anni aveva"): they name no subject of the question."""
    found = _asking(question)
    return found[1] if found else None


def leads_question(question: str, start: int) -> bool:
    """Whether asking words at `start` open the question (at most LEAD_WORDS words before
    them: "Da quanti anni…"); "…scatteranno quando finirà la guerra" in a clause further on
    is not what is asked."""
    return len(question[:start].split()) <= LEAD_WORDS


def _asking(question: str) -> tuple[str, tuple[int, int]] | None:
    """The kind of the asking words that come first, and where they are: "Quanti anni aveva
    quando ottenne la parte?" asks for an age, its "quando" opens a clause (on a tie, the
    list's order: "quanti anni aveva" is an AGE before "quanti" is a NUMBER)."""
    found: tuple[str, tuple[int, int]] | None = None
    for kind, pattern in _QUESTION_TYPES:
        match = pattern.search(question)
        if (
            match
            and leads_question(question, match.start())
            and (found is None or match.start() < found[1][0])
        ):
            found = kind, match.span()
    return found


def _counts(word: str, known: AbstractSet[str]) -> bool:
    """Whether `word` (after an ordinal) is a noun of the question, singular or plural."""
    return bool(roots(analyze(word)) & roots(known))


def has_type(sentence: str, kind: str | None, known: AbstractSet[str] = frozenset()) -> bool:
    """Whether `sentence` contains something of the expected kind, or says that a figure or
    time was not given ("non ha fornito dettagli": news often answers "how many?" that way).
    `known`: the question's term stems; a place's name must not be made of them, and an
    ordinal counts only what they name ("terzo anno" for "da quanti anni…?")."""
    if kind is None:
        return True
    if kind == PLACE:
        return bool(place_names(sentence, known))
    if kind == ORGANISATION:
        return bool(name_spans(sentence, known, split=True))
    if _NOT_GIVEN.search(sentence):
        return True
    if kind == PERCENT:
        return bool(PERCENT_SIGN.search(sentence))
    if kind == AGE:
        return bool(_AGE.search(sentence))
    if kind == DURATION:
        return bool(_DURATION.search(sentence))
    if kind == MONEY:
        return bool(_MONEY.search(sentence))
    if kind == NUMBER:
        # A year or a date says when, not how many: "nel 2022", "il 1 ottobre" do not
        # answer "quanti…?".
        return bool(
            _DIGIT.search(_YEAR.sub(" ", _FULL_DATE.sub(" ", sentence)))
            or _NUMBER_RE.search(sentence)
            or any(_counts(m.group(1), known) for m in _ORDINAL_OF.finditer(sentence))
        )
    if kind == DATE:
        return bool(_FULL_DATE.search(sentence))
    if kind == CALENDAR_YEAR:
        return bool(_YEAR_GIVEN.search(sentence))
    return bool(_YEAR.search(sentence) or _TIME_RE.search(sentence))
