"""Expected answer types: a "quanti…?" question needs a number, a "quando…?" one a time,
a "quanto costa…?" one a sum, an "in quale città…?" one a place's name.

A sentence without anything of the expected type cannot answer the question, so
such sentences lose to ones that have it, and when none of the evidence has it,
the question is not answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from rag.retrieval.lexical import analyze

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

_PLACE_NOUNS = (
    "città paese paesi nazione nazioni stato stati capitale regione regioni continente isola "
    "isole fiume provincia località city country countries state region island river "
    "ville pays région île fleuve ciudad país región isla río stadt land insel fluss"
)

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
        ASKING_WHICH + r"(?:" + "|".join(_PLACE_NOUNS.split()) + r")\b", re.IGNORECASE
    )),
    (ORGANISATION, asking_for(ORG_NOUNS)),
]  # fmt: skip

# A run of capitalised words is one name: "Vladimir Putin", "Kim Jong-un", "Nuova Zelanda".
_NAME_RUN = re.compile(r"(?<![\w’'])[A-ZÀ-Ý][\w-]*(?:\s+[A-ZÀ-Ý][\w-]*)*")


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


def _asking(question: str) -> tuple[str, tuple[int, int]] | None:
    """The kind of the asking words that come first, and where they are: "Quanti anni aveva
    quando ottenne la parte?" asks for an age, its "quando" opens a clause (on a tie, the
    list's order: "quanti anni aveva" is an AGE before "quanti" is a NUMBER)."""
    found: tuple[str, tuple[int, int]] | None = None
    for kind, pattern in _QUESTION_TYPES:
        match = pattern.search(question)
        # The asking words open the question ("Da quanti anni…"); "…scatteranno quando
        # finirà la guerra" in a clause further on is not what is asked.
        if (
            match
            and len(question[: match.start()].split()) <= LEAD_WORDS
            and (found is None or match.start() < found[1][0])
        ):
            found = kind, match.span()
    return found


def opens_sentence(text: str, start: int, also_skip: str = "") -> bool:
    """Whether the word at `start` opens a sentence (quotes and brackets before it aside,
    and the characters in `also_skip`): its capital then says nothing about whether it is
    a name."""
    before = text[:start].rstrip(" «“\"'(¿¡" + also_skip)
    return not before or before[-1] in ".!?:"


_QUESTION_NAME = re.compile(r"(?<![\w’'])[A-ZÀ-Ý][\w-]*")


def asked_names(question: str) -> list[tuple[str, list[str]]]:
    """Each capitalised word of a question that is not its opening one, with its stems:
    the names it asks about."""
    return [
        (m.group(0), analyze(m.group(0)))
        for m in _QUESTION_NAME.finditer(question)
        if not opens_sentence(question, m.start())
    ]


def new_names(sentence: str, known: AbstractSet[str]) -> list[str]:
    """Names in `sentence` (runs of capitalised words) none of whose stems is `known`.

    A name sharing a word with the question ("Vladimir Putin" for "…Putin…?") is the
    question's own entity, not an answer. The sentence's opening word is left out: its
    capital says nothing ("Tuttavia", "Mercoledì").
    """
    return [name for _, name in _new_name_runs(sentence, known)]


def _new_name_runs(sentence: str, known: AbstractSet[str]) -> list[tuple[int, str]]:
    """new_names, each with where its run starts in `sentence`."""
    return [
        (start, " ".join(sentence[start:end].split())) for start, end in name_spans(sentence, known)
    ]


_WORD_IN_RUN = re.compile(r"\S+")


def name_spans(
    sentence: str, known: AbstractSet[str], split: bool = False
) -> list[tuple[int, int]]:
    """Where the `new_names` of `sentence` are: (start, end) of each run of capitalised
    words, its sentence-opening word left out. With `split`, a run holding a known word is
    cut around it ("Cremlino Dmitry Peskov" gives "Dmitry Peskov" for "…Cremlino?")
    instead of left out, where at least two words remain together ("Super Bowl XLIX"
    gives nothing for "…Super Bowl?")."""
    found = []
    for match in _NAME_RUN.finditer(sentence):
        words = [(w.start(), w.end()) for w in _WORD_IN_RUN.finditer(match.group(0))]
        if opens_sentence(sentence, match.start()):
            words = words[1:]
        parts = _parts(sentence, match.start(), words, known) if split else [words]
        for part in parts:
            if not part or (len(parts) > 1 and len(part) < 2):
                continue  # one word left of a run cut around the question's: part of its name
            start, end = match.start() + part[0][0], match.start() + part[-1][1]
            stems = analyze(sentence[start:end])
            if stems and not any(t in known or _demonym_known(t, known) for t in stems):
                found.append((start, end))
    return found


def _parts(
    sentence: str, offset: int, words: list[tuple[int, int]], known: AbstractSet[str]
) -> list[list[tuple[int, int]]]:
    """The runs of `words` between those whose stems are known."""
    parts: list[list[tuple[int, int]]] = [[]]
    for a, b in words:
        stems = analyze(sentence[offset + a : offset + b])
        if any(t in known or _demonym_known(t, known) for t in stems):
            parts.append([])
        else:
            parts[-1].append((a, b))
    return parts


_PLACE_NOUN_SET = frozenset(_PLACE_NOUNS.split())
# "la regione di Kursk": the noun introducing a name says what kind of place it is.
_INTRODUCED = re.compile(
    r"(\w+)\s+(?:di|del|dello|della|dei|degli|delle|of)\s+$|(\w+)\s+dell['’]\s*$", re.IGNORECASE
)


def place_names(sentence: str, known: AbstractSet[str]) -> list[str]:
    """The `new_names` that may be the place asked for: not one introduced as another kind
    of place than the question's ("la regione di Kursk" does not answer "quale città…?")."""
    return [" ".join(sentence[a:b].split()) for a, b in place_spans(sentence, known)]


def place_spans(
    sentence: str, known: AbstractSet[str], split: bool = False
) -> list[tuple[int, int]]:
    """Where the `place_names` of `sentence` are (`split`: as in `name_spans`)."""
    roots = _roots(known)
    found = []
    for start, end in name_spans(sentence, known, split):
        match = _INTRODUCED.search(sentence[:start])
        noun = (match.group(1) or match.group(2)).lower() if match else ""
        if noun in _PLACE_NOUN_SET and not _roots(analyze(noun)) & roots:
            continue
        found.append((start, end))
    return found


# Endings that make a place's adjective from its stem: Cina → cinese, Italia → italiano,
# Roma → romano, America → americano, Messico → messicano (as snowball stems: cines, italian…).
_DEMONYM_ENDINGS = frozenset({"es", "an", "ian", "ican", "in", "ic", "ens", "en", "ean"})


_MIN_ROOT = 3  # a shorter root ("" for "ue") would match unrelated words


def _root(stem: str) -> str:
    """A stem without its final vowels: snowball leaves "anno" and "anni" apart."""
    return stem.rstrip("aeiouàèéìòù")


def _roots(stems: Iterable[str]) -> set[str]:
    """The roots of `stems` long enough to mean something (not "" for "ue")."""
    return {root for root in map(_root, stems) if len(root) >= _MIN_ROOT}


def _demonym_known(stem: str, known: AbstractSet[str]) -> bool:
    """Whether a known stem is the place's adjective: a question about "quale città cinese"
    already holds "Cina", so "in Cina" does not answer it."""
    root = _root(stem)
    return len(root) >= _MIN_ROOT and any(
        k.startswith(root) and k[len(root) :] in _DEMONYM_ENDINGS for k in known
    )


def _counts(word: str, known: AbstractSet[str]) -> bool:
    """Whether `word` (after an ordinal) is a noun of the question, singular or plural."""
    return bool(_roots(analyze(word)) & _roots(known))


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
