"""The words of an answer sentence that answer the question: a person, a place, an
organisation, a number, a date or a time.

The question's asking words say what kind of words to look for (rag.retrieval.answer_types,
plus "chi…?" for a person, "quale agenzia…?" for an organisation and "dove…?" for a
place); the sentence's words of that kind are the candidates, and the one nearest to the
question's own words in the sentence wins (a sentence often holds several names or
figures; the one asked about sits next to what the question names). Nothing is
generated: a span is a slice of the quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.answering.span_edges import COUNTS, joined, whole_figure, whole_name, with_head
from rag.retrieval.answer_types import (
    ASKING_WHICH,
    CALENDAR_YEAR,
    DATE,
    NUMBER_WORDS,
    ORGANISATION,
    PERCENT,
    PERCENT_SIGN,
    PLACE,
    TIME,
    YEAR,
    asking_for,
    expected_type,
    leads_question,
)
from rag.retrieval.dates import MONTHS, WEEKDAYS
from rag.retrieval.lexical import analyze
from rag.retrieval.names import name_spans, opens_sentence, place_spans

PERSON = "person"

# Organisations whose name may answer (highlighted), wider than those whose name must
# (rag.retrieval.answer_types.ORG_NOUNS): "quale gruppo…?" is often answered without one.
_ORG_NOUNS = (
    "organizzazione organizzazioni ente enti istituzione istituzioni gruppo band associazione "
    "alleanza governo ministero tribunale corte casa partito partiti "
    "organization organisation group band association alliance government ministry court party"
)
# People named by their role ("Quale imperatore…?", "Which Roman emperor…?") ask for a name.
_PERSON_NOUNS = (
    "imperatore imperatrice re regina principe principessa duca sovrano papa vescovo "
    "presidente ministro leader capo comandante generale fondatore scienziato fisico chimico "
    "ingegnere architetto filosofo scrittore scrittrice autore autrice poeta pittore "
    "compositore attore attrice cantante giocatore allenatore quarterback medico professore "
    "emperor empress king queen prince princess duke ruler pope bishop president minister "
    "leader chief commander general founder scientist physicist chemist engineer architect "
    "philosopher writer author poet painter composer actor actress singer player coach "
    "doctor professor "
    "empereur roi reine président ministre écrivain auteur joueur entraîneur "
    "emperador rey reina presidente ministro escritor autor jugador entrenador "
    "kaiser könig königin präsident minister schriftsteller autor spieler trainer"
)
_ASKING_ROLE = re.compile(  # one more word before the role at most: "Which Roman emperor…?"
    ASKING_WHICH + r"(?:[\w-]+\s+)?(?:" + "|".join(sorted(set(_PERSON_NOUNS.split()))) + r")\b",
    re.IGNORECASE,
)
_KIND_PATTERNS = [
    (ORGANISATION, asking_for(_ORG_NOUNS)),
    (PERSON, re.compile(
        r"\b(?:chi|who|whom|whose|da chi|a chi|di chi|con chi|per chi)\b", re.IGNORECASE
    )),
    (PLACE, re.compile(r"\b(?:dove|where|in che luogo|in quale luogo)\b", re.IGNORECASE)),
]  # fmt: skip

_SCALE = r"(?:mila|milioni|miliardi|milione|miliardo|million|millions|billion|thousand)"
# "8,7 miliardi di dollari", "17%": what is counted, when the scale or sign says it.
_COUNTED = r"(?:\s+" + _SCALE + r"(?:\s+di\s+[a-zà-ÿ]{2,})?|\s*%|\s+per\s*cento)?"
_NUMBER = re.compile(
    r"(?<![\w.,\-/])(?:\d+(?:[.,]\d+)*|(?:" + NUMBER_WORDS + r"))" + _COUNTED + r"(?!\w)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b" + YEAR + r"\b")
_MONTHS = (
    r"gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|"
    r"dicembre|january|february|march|april|may|june|july|august|september|october|november|"
    r"december"
)
_DATE = re.compile(
    r"\b(?:[0-3]?\d\s+(?:" + _MONTHS + r")(?:\s+" + YEAR + r")?"
    r"|(?:" + _MONTHS + r")\s+" + YEAR + r"|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d\d-\d\d)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
# "a Vladivostok", "in Francia", "nella città di…": a name after these is where.
_LOCATIVE = re.compile(
    r"\b(?:a|ad|in|nel|nella|nei|nelle|presso|da|dal|dalla|verso|at|to|from|near)\s+$",
    re.IGNORECASE,
)
LOCATIVE_BONUS = 2.0
# "Dove si trovano i pirenoidi?" is often answered by no name: "nel citosolo", "negli
# steli", "tra il plancton". Where a sentence holds no place name, such a phrase is the span.
_PLACE_PHRASE = re.compile(
    r"(?<![\w'’])(?:(?:in|nel|nella|nello|nei|negli|nelle|sul|sulla|sullo|sui|sugli|sulle|"
    r"al|allo|alla|ai|agli|alle|tra|fra|presso|sotto|sopra|dentro|lungo|attraverso|"
    r"vicino a\w*)\s+|(?:nell|sull|all|vicino all)['’]\s*)",
    re.IGNORECASE,
)
PHRASE_WORDS = 5  # a locative phrase's words after its preposition, at most
# ... which ends at punctuation or a word opening a clause ("…nel citosolo, dove…").
_PHRASE_WORD = re.compile(r"[\w'’-]+|[^\w\s]")
# ... or at an article that opens another noun phrase (not one after "di", "a"…).
_ARTICLES = frozenset("il lo la i gli le un uno una l' l’".split())
_LINKS = frozenset(
    "di a da in con su per tra fra del della dei degli delle dal dalla al alla".split()
)
_TIME_NOUNS = frozenset(
    "anno anni secolo secoli periodo periodi mese mesi giorno giorni settimana decennio "
    "epoca momento tempo autunno inverno primavera estate mattina sera notte corso".split()
)
_ROMAN = re.compile(r"[IVXLC]+")
_CLAUSE = frozenset(
    "che cui dove quando come mentre dopo prima e ed o od ma per con perché poiché".split()
)
PART = 0.5  # a name cut from a run around the question's own words counts half
_NAME_BEFORE = re.compile(r"([A-ZÀ-Ý][\w-]*) $")
_NAME_AFTER = re.compile(r" ([A-ZÀ-Ý][\w-]*)")
NAMES = (PERSON, ORGANISATION, PLACE)


def span_kind(question: str) -> str | None:
    """What kind of words answer the question: PERSON, ORGANISATION, PLACE, a count (COUNTS:
    a number, a percentage, an age, a duration, a sum), DATE, TIME (a year asked for too),
    or None (a question of another kind: why, how, what did they say…)."""
    expected = expected_type(question)
    if expected == CALENDAR_YEAR:  # the span of a year is a time's: the year or its date
        expected = TIME
    if expected == ORGANISATION:
        return expected
    for kind, pattern in _KIND_PATTERNS:
        for match in pattern.finditer(question):
            if not leads_question(question, match.start()):
                break
            # A capitalised asking word inside the question is part of a name ("Quanti
            # episodi di Doctor Who…?"), not the question's asking word.
            if match.group(0)[0].islower() or opens_sentence(question, match.start()):
                return kind
    # A role asks for a person where nothing else is asked ("In che anno re Carlo…?": a time).
    role = _ASKING_ROLE.search(question)
    if expected is None and role and leads_question(question, role.start()):
        return PERSON
    return expected


def candidates(sentence: str, kind: str, known: set[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `kind` in `sentence` that are not the question's own
    (`known`: its term stems)."""
    if kind in NAMES:
        runs = name_spans if kind != PLACE else place_spans
        whole = [
            whole_name(sentence, a, b, known)
            for a, b in joined(sentence, runs(sentence, known, split=True))
        ]
        if kind == ORGANISATION:  # "Università di Northumbria" for "Quale università…?"
            whole = [with_head(sentence, a, b) for a, b in whole]
        # a run a name's completion took in ("Co" of "Read & Co.") is no name of its own,
        # nor is a Roman numeral alone ("XVIII": a century, not a person)
        return [
            (a, b)
            for a, b in whole
            if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in whole)
            and not _ROMAN.fullmatch(sentence[a:b])
        ]
    if kind in COUNTS:  # not a year, nor the day of a date ("il 31 marzo 2012")
        years = [m.span() for m in _YEAR.finditer(sentence)]
        dates = [m.span() for m in _DATE.finditer(sentence)]
        found = [
            m.span()
            for m in _NUMBER.finditer(sentence)
            if m.span() not in years and not any(a <= m.start() < b for a, b in dates)
        ]
        if kind == PERCENT:  # "il 40%", not the year or the count beside it
            found = [(a, b) for a, b in found if PERCENT_SIGN.search(sentence[a:b])]
    elif kind == DATE:
        found = [m.span() for m in _DATE.finditer(sentence)]
    elif kind == TIME:
        dates = [m.span() for m in _DATE.finditer(sentence)]
        found = dates + [
            m.span()
            for m in _YEAR.finditer(sentence)
            if not any(a <= m.start() < b for a, b in dates)
        ]
    else:
        return []
    return [(a, b) for a, b in found if not _only_known(sentence[a:b], known)]


def _only_known(text: str, known: set[str]) -> bool:
    """Whether every term of `text` is one of the question's (it restates, not answers)."""
    stems = set(analyze(text))
    return bool(stems) and stems <= known


def answer_span(
    question: str, sentence: str, weights: Mapping[str, float], phrases: bool = True
) -> tuple[int, int] | None:
    """Where in `sentence` the words answering `question` are (offsets into `sentence`), or
    None when the question asks for no such words or the sentence has none. Among several
    candidates, the one with the most question weight (`weights`: term stem -> IDF) close
    by wins: each question word in the sentence counts its weight over 1 + its distance in
    words; ties go to the first. A place asked for may be a phrase of place when the
    sentence names none (place_phrases), unless `phrases` is False (an answer's later quote
    may name it)."""
    kind = span_kind(question)
    if kind is None:
        return None
    known = set(weights)
    found = [(a, b) for a, b in candidates(sentence, kind, known) if b > a]
    if not found and kind == PLACE and phrases:
        found = place_phrases(sentence, known)
    if not found:
        return None
    words = [(m.start(), m.end(), analyze(m.group(0))) for m in _WORD.finditer(sentence)]
    places = [(i, stem) for i, (_, _, stems) in enumerate(words) for stem in stems if stem in known]

    def closeness(span: tuple[int, int]) -> float:
        inside = [i for i, (s, e, _) in enumerate(words) if s < span[1] and e > span[0]]
        if not inside:
            return 0.0
        first, last = inside[0], inside[-1]
        best: dict[str, float] = {}
        for i, stem in places:
            if first <= i <= last:
                continue
            distance = first - i if i < first else i - last
            best[stem] = max(best.get(stem, 0.0), weights[stem] / (1 + distance))
        return sum(best.values())

    def score(span: tuple[int, int]) -> tuple[float, int]:
        cue = kind == PLACE and bool(_LOCATIVE.search(sentence[: span[0]]))
        part = kind in NAMES and _touches_known(sentence, span, known)
        value = closeness(span) * (LOCATIVE_BONUS if cue else 1.0) * (PART if part else 1.0)
        # Equal evidence: a person's name has two words or more ("Guy de Lusignan").
        return value, len(sentence[span[0] : span[1]].split()) if kind == PERSON else 0

    return whole_figure(kind, sentence, max(found, key=score), known)  # max: the first of equals


def place_phrases(sentence: str, known: set[str]) -> list[tuple[int, int]]:
    """(start, end) of each locative phrase of `sentence` (a preposition of place and up to
    PHRASE_WORDS words, to the first punctuation, clause word or article opening another
    noun phrase, its trailing function words dropped: "negli steli") that says something
    the question does not, and says where, not when ("nel 1347" is none)."""
    found = []
    for match in _PLACE_PHRASE.finditer(sentence):
        words: list[tuple[int, str]] = []
        for word in _PHRASE_WORD.finditer(sentence, match.end()):
            text = word.group(0)
            if len(words) == PHRASE_WORDS or not text[0].isalnum() or text.lower() in _CLAUSE:
                break
            if text.lower() in _ARTICLES and words and words[-1][1].lower() not in _LINKS:
                break  # another noun phrase: "nelle storie successive | il protagonista"
            words.append((word.end(), text))
        while words and not analyze(words[-1][1]):  # "nelle baie in" ends at "baie"
            words.pop()
        if words and _when(words[0][1]):
            continue  # "nel 1347", "nell'autunno", "nel XIX secolo": a time, not a place
        if words and not _only_known(sentence[match.end() : words[-1][0]], known):
            found.append((match.start(), words[-1][0]))
    return found


def _when(word: str) -> bool:
    """Whether a phrase opening with `word` says when, not where."""
    lower = word.lower()
    return (
        lower[:1].isdigit()
        or lower in MONTHS
        or lower in WEEKDAYS
        or lower in _TIME_NOUNS
        or bool(_ROMAN.fullmatch(word))
    )


def _touches_known(sentence: str, span: tuple[int, int], known: set[str]) -> bool:
    """Whether the name at `span` was cut from a run holding a question word (it may be
    the rest of the question's own name: "Cremlino Dmitry" of "…Peskov?")."""
    before = _NAME_BEFORE.search(sentence[: span[0]])
    after = _NAME_AFTER.match(sentence[span[1] :])
    return any(m and set(analyze(m.group(1))) & known for m in (before, after))
