"""Names in questions and sentences: which capitalised words are names, which of them a
question asks about, which of a sentence's are new to the question (an answer), and which
may be the place asked for ("la regione di Kursk" is no city).

Kept apart from the answer types (rag.retrieval.answer_types), which use them for the
questions asking for a person, an organisation or a place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from rag.retrieval.lexical import analyze

PLACE_NOUNS = (  # what a "which…" question asks for when it asks for a place
    "città paese paesi nazione nazioni stato stati capitale regione regioni continente isola "
    "isole fiume provincia località city country countries state region island river "
    "ville pays région île fleuve ciudad país región isla río stadt land insel fluss"
)

# A run of capitalised words is one name: "Vladimir Putin", "Kim Jong-un", "Nuova Zelanda".
_NAME_RUN = re.compile(r"(?<![\w’'])[A-ZÀ-Ý][\w-]*(?:\s+[A-ZÀ-Ý][\w-]*)*")


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


_PLACE_NOUN_SET = frozenset(PLACE_NOUNS.split())
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
    known_roots = roots(known)
    found = []
    for start, end in name_spans(sentence, known, split):
        match = _INTRODUCED.search(sentence[:start])
        noun = (match.group(1) or match.group(2)).lower() if match else ""
        if noun in _PLACE_NOUN_SET and not roots(analyze(noun)) & known_roots:
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


def roots(stems: Iterable[str]) -> set[str]:
    """The roots of `stems` long enough to mean something (not "" for "ue")."""
    return {root for root in map(_root, stems) if len(root) >= _MIN_ROOT}


def _demonym_known(stem: str, known: AbstractSet[str]) -> bool:
    """Whether a known stem is the place's adjective: a question about "quale città cinese"
    already holds "Cina", so "in Cina" does not answer it."""
    root = _root(stem)
    return len(root) >= _MIN_ROOT and any(
        k.startswith(root) and k[len(root) :] in _DEMONYM_ENDINGS for k in known
    )
