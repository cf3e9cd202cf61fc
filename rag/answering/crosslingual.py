"""A question in another language, matched word by word against Italian sentences.

Stemmed as Italian, the words of "Who gave oxygen its name?" meet the articles only by
accident, so a foreign question's sentences are chosen by the e5 cosine alone, and
between close cosines it often picks a neighbour of the answer. Yet the encoder reads
single words across languages well: alone, "oxygen" is nearest to "ossigeno" (0.89),
"name" to "nome" (0.96), "Kunden" to "clienti" (0.95), "casó" to "sposò" (0.92), far
above the unrelated words of the same sentences. So each content word of the question
is aligned with the candidate sentences' words, and a sentence gains the share of the
question's (IDF-weighted) words it holds a translation of.

The same alignment tells whether the evidence names who or what a foreign question asks
about: a full name none of whose spellings or translations it holds ("Ursula von der Leyen")
makes the question unanswerable, as an unknown name does an Italian one (unmatched_names).

Measured on the multilingual tuning set (`eval/data/multilingual_tune.jsonl`, where the
constants were chosen), then on the multilingual and follow-up sets: see the README.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

import bm25s.stopwords as stopwords
import numpy as np

from rag.answering.extractive import ScoredSentence, alike_word
from rag.answering.language import function_words
from rag.retrieval.dates import MONTHS, WEEKDAYS
from rag.retrieval.lexical import STOPWORDS, analyze
from rag.retrieval.names import opens_sentence

ALIGN_MIN = 0.88  # least cosine of a question word to an Italian word to count as its translation
ALIGN_SPREAD = 0.04  # Italian words this close to the best one are translations too (forms)
ALIGN_SENTENCES = 6  # the best sentences by cosine that are re-scored (each word costs a call)
ALIGN_WEIGHT = 0.2  # added to a sentence's score per share of the question's words it holds
# Languages whose capitals mark names (German capitalises every noun: "Hauptstadt", "Weizen").
NAMED_BY_CAPITALS = frozenset({"en", "fr", "es"})

_WORD = re.compile(r"\w+")
_QUESTION_STOPWORDS = {
    "en": frozenset(stopwords.STOPWORDS_EN_PLUS) | frozenset(stopwords.STOPWORDS_EN),
    "fr": frozenset(stopwords.STOPWORDS_FRENCH),
    "es": frozenset(stopwords.STOPWORDS_SPANISH),
    "de": frozenset(stopwords.STOPWORDS_GERMAN),
}

# Names of two capitalised words or more, particles between them ("Ursula von der Leyen").
_NAME_WORD = re.compile(r"[A-ZÀ-Ý][\w-]*")
_PARTICLES = r"(?:von|van|der|den|de|del|della|di|da|du|la|le|al|el|bin|ibn|y)"
_FULL_NAME = re.compile(
    r"(?<![\w'’])[A-ZÀ-Ý][\w'’-]*(?:\s+(?:" + _PARTICLES + r"\s+)*[A-ZÀ-Ý][\w'’-]*)+"
)

# unit vectors of words, in order (the e5 model, on the question's lane)
WordVectors = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Alignment:
    """What one word of the question matched: the Italian words taken for its translation
    (empty when none is close enough) and the word's weight in the question."""

    word: str
    translations: frozenset[str]
    weight: float


def question_words(question: str, language: str) -> list[str]:
    """The question's content words, as written (its language's stopwords and asking
    words left out)."""
    skip = _QUESTION_STOPWORDS.get(language, STOPWORDS) | function_words(language)
    found = [w for w in _WORD.findall(question) if w.lower() not in skip]
    return list(dict.fromkeys(w for w in found if len(w) > 2 or w.isdigit()))


def sentence_words(sentence: str) -> list[str]:
    """An Italian sentence's content words, lowercased (its stopwords left out)."""
    found = _WORD.findall(sentence.lower())
    return [w for w in found if w not in STOPWORDS and (len(w) > 2 or w.isdigit())]


def align(
    asked: Sequence[str],
    asked_vectors: np.ndarray,
    targets: Sequence[str],
    target_vectors: np.ndarray,
    idf: Callable[[str], float],
) -> list[Alignment]:
    """Each asked word's translations among `targets` (unit vectors in the same order):
    the nearest target when its cosine reaches ALIGN_MIN, with those within ALIGN_SPREAD
    of it. A word weighs the IDF of its nearest translation (a number, which has no stem,
    weighs as the question's rarest word); an untranslated word weighs 1."""
    if not len(targets):
        return [Alignment(w, frozenset(), 1.0) for w in asked]
    cosines = asked_vectors @ target_vectors.T
    found: list[tuple[str, frozenset[str], float | None]] = []
    for word, row in zip(asked, cosines, strict=True):
        best = int(row.argmax())
        if row[best] < ALIGN_MIN:
            found.append((word, frozenset(), 1.0))
            continue
        close = np.nonzero(row >= max(ALIGN_MIN, float(row[best]) - ALIGN_SPREAD))[0]
        stems = analyze(targets[best])
        weight = max((idf(s) for s in stems), default=0.0) or None
        found.append((word, frozenset(targets[int(i)] for i in close), weight))
    rarest = max((w for _, _, w in found if w is not None), default=1.0)
    return [Alignment(word, t, rarest if w is None else w) for word, t, w in found]


def aligned_share(alignments: Sequence[Alignment], words: set[str]) -> float:
    """Share of the question's weight whose translations the sentence's `words` hold."""
    total = sum(a.weight for a in alignments)
    if total <= 0:
        return 0.0
    return sum(a.weight for a in alignments if a.translations & words) / total


def aligned_shares(
    question: str,
    language: str,
    sentences: Sequence[str],
    vectors: WordVectors,
    idf: Callable[[str], float],
) -> list[float]:
    """Each sentence's aligned share of the question's words (see the module's docstring)."""
    asked = question_words(question, language)
    words = [sentence_words(s) for s in sentences]
    if not asked or not sentences:
        return [0.0] * len(sentences)
    targets = sorted({w for ws in words for w in ws})
    found = vectors([*asked, *targets])
    alignments = align(asked, found[: len(asked)], targets, found[len(asked) :], idf)
    return [aligned_share(alignments, set(ws)) for ws in words]


def nearest_sentences(scored: Sequence[ScoredSentence]) -> list[int]:
    """Positions of the ALIGN_SENTENCES sentences nearest to the question (e5 cosine): those
    whose words are aligned with the question's."""
    return sorted(range(len(scored)), key=lambda i: -scored[i].cosine)[:ALIGN_SENTENCES]


def with_aligned_words(
    scored: Sequence[ScoredSentence], shares: Callable[[Sequence[str]], list[float]]
) -> list[ScoredSentence]:
    """`scored` (rag.answering.extractive) with the ALIGN_SENTENCES best by cosine gaining
    ALIGN_WEIGHT per share of the question's words they translate (kept as their `aligned`
    share, which pick_sentences reads), best first again."""
    best = nearest_sentences(scored)
    if not best:
        return list(scored)
    gains = dict(zip(best, shares([scored[i].text for i in best]), strict=True))
    out = [
        dataclasses.replace(s, score=s.score + ALIGN_WEIGHT * gains[i], aligned=gains[i])
        if i in gains
        else s
        for i, s in enumerate(scored)
    ]
    return sorted(out, key=lambda s: -s.score)


def full_name_words(question: str) -> list[str]:
    """The words of the question's names of two capitalised words or more ("Olaf Scholz",
    "Ursula von der Leyen"; its opening word aside): a single capitalised word may be an
    adjective where another language writes it in lower case ("Dutch", "olandese")."""
    words: list[str] = []
    for match in _FULL_NAME.finditer(question):
        found = list(_NAME_WORD.finditer(match.group(0)))
        if opens_sentence(question, match.start()):
            found = found[1:]
        if len(found) >= 2:
            words.extend(w.group(0) for w in found)
    return list(dict.fromkeys(words))


def unmatched_names(
    question: str,
    language: str,
    spelled: Set[str],
    sentences: Sequence[str],
    vectors: WordVectors,
    df: Callable[[str], int],
) -> list[str]:
    """The names a foreign question asks about that the collection and its evidence do not
    hold: words of its full names (full_name_words) none of whose stems the collection knows
    (`df`: in how many passages a stem is), spelled alike by no word of the candidate
    passages (`spelled`: rag.answering.extractive.passage_words), and whose e5 vector is
    near no word of the `sentences` nearest to the question (under ALIGN_MIN: "Moscow" is
    near "Mosca", "Death" near "morte"; those sentences' words are aligned anyway, and each
    word embedded costs a call). The Italian rule (rag.answering.extractive.unknown_names)
    asks the collection alone; another language names the same places otherwise. Only where
    capitals mark names (NAMED_BY_CAPITALS; not English months and days, "October",
    "Monday")."""
    if language not in NAMED_BY_CAPITALS:
        return []
    missing = [
        name
        for name in full_name_words(question)
        if (stems := analyze(name))
        and not any(df(t) for t in stems)
        and name.lower() not in MONTHS  # English capitalises its months and days
        and name.lower() not in WEEKDAYS
    ]
    missing = [n for n in missing if alike_word(n, spelled) is None]  # full_name_words: no repeats
    words = sorted({w for s in sentences for w in sentence_words(s)})
    if not missing or not words:
        return missing
    found = vectors([*missing, *words])
    nearest = (found[: len(missing)] @ found[len(missing) :].T).max(axis=1)
    return [n for n, cosine in zip(missing, nearest, strict=True) if cosine < ALIGN_MIN]
