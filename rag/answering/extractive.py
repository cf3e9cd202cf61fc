"""The default answerer: verbatim sentences from the retrieved chunks, or an honest abstention.

Sentences are scored by how much of the question's (IDF-weighted, stemmed)
vocabulary they contain, blended with the question's multilingual-e5-small cosine to
them; a question whose key terms are nowhere in the best sentence (for a question in
another language: whose cosine to it is too low) is not answered. No language model
writes anything, so every word of an answer is a quote.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass

from pydantic import BaseModel

from rag.answering.citations import Citation, with_span
from rag.answering.followup import Leads
from rag.answering.language import abstention_message
from rag.answering.span import candidates
from rag.retrieval.answer_types import has_type
from rag.retrieval.fusion import unit_range
from rag.retrieval.lexical import LexicalIndex, analyze
from rag.retrieval.names import asked_names
from rag.retrieval.passages import SOURCE_MAX_CHARS
from vectorstore.documents import Chunk
from vectorstore.sentences import sentence_spans

MIN_ANSWER_WORDS = 4  # shorter "sentences" are fragments, not answers
_SENTENCE_END = tuple(".!?…»”\"')")  # a line without one is a heading, not an answer
RANK_PRIOR = 0.05  # ties go to the better-retrieved chunk
FOLLOW_RATIO = 0.82  # a further sentence must score this close to the best one (measured)
HISTORY_TERM_WEIGHT = 0.3
SAID_SHARE = 0.8  # a sentence quoted in the previous answer keeps this share of its score
KIND_BONUS = 0.2  # added to a follow-up's sentence holding words of the kind asked for
BM25_SHARE = 0.3  # sentence BM25 against term coverage in sentence scores (measured)
DENSE_SHARE = 0.5  # the question's e5 cosine to the sentence against the lexical score (measured)
# A sentence translating most of a foreign question's words may answer at a cosine this
# much under the floor (news sentences are long; chosen on the tuning sets, measured)
ALIGNED_FLOOR_SLACK = 0.02
ALIGNED_ENOUGH = 0.75  # ... the share of the question's weight it must translate
SPELLED_ALIKE = 0.8  # difflib's ratio at which a word is the same name spelled another way
_WORD = re.compile(r"\w+")
# the question's cosine to each of these sentences (multilingual-e5-small), in order
Similarity = Callable[[Sequence[str]], list[float]]


class Source(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str
    text: str
    start: int
    end: int
    score: float


class Answer(BaseModel):
    answer: str
    abstained: bool
    citations: list[Citation]
    sources: list[Source]


@dataclass(frozen=True)
class ScoredSentence:
    chunk: Chunk
    start: int  # offsets into the article body
    end: int
    coverage: float
    score: float
    cosine: float = 0.0  # the question's dense cosine to the sentence (0: no dense model)
    answering: bool = False  # a follow-up's quote holding the kind of words asked for
    near: bool = False  # next to a quote of the previous answer (rag.answering.followup)
    context: float = 0.0  # the question's weight in the sentence and the one before it
    aligned: float = 0.0  # share of a foreign question's words it translates (crosslingual)

    @property
    def text(self) -> str:
        """The sentence's words, cut from its chunk."""
        offset = self.start - self.chunk.start
        return self.chunk.text[offset : offset + self.end - self.start]


@dataclass(frozen=True)
class _Candidate:
    """A sentence of score_sentences before the dense cosine: its lexical parts, its
    bonuses (`extra`: rank prior, kind, nearness) and the share kept if already said."""

    chunk: Chunk
    start: int  # offset into the article body
    text: str
    cov: float  # the question's weight in the sentence: what makes it eligible
    context_cov: float  # ... in the sentence and the one before it: what it scores by
    bm25: float
    extra: float
    share: float


def question_terms(
    question: str, history: Sequence[Mapping[str, str]], index: LexicalIndex
) -> dict[str, float]:
    """IDF weight of each question term; terms only in earlier user turns count less."""
    weights = {t: index.idf(t) for t in analyze(question)}
    for message in history:
        if message.get("role") == "user":
            for term in analyze(message.get("content", "")):
                weights.setdefault(term, HISTORY_TERM_WEIGHT * index.idf(term))
    return weights


def previous_answer(history: Sequence[Mapping[str, str]]) -> str:
    """The last assistant turn's text ("" when there is none)."""
    answers = [m.get("content", "") for m in history if m.get("role") == "assistant"]
    return answers[-1] if answers else ""


def unknown_spellings(
    question: str, index: LexicalIndex, words: Set[str] = frozenset()
) -> dict[str, str | None]:
    """Each capitalised word of the question (not its opening one) that occurs nowhere in
    the collection, with the word of the candidate passages (`words`: passage_words) that
    spells it alike ("Zelenski" is "Zelensky", "Upsala" is "Uppsala": alike_word), or None
    when none does."""
    return {
        name: alike_word(name, words)
        for name, stems in asked_names(question)
        if stems and all(index.df(t) == 0 for t in stems)
    }


def unknown_names(spellings: Mapping[str, str | None]) -> list[str]:
    """The names of unknown_spellings that no passage word spells either.

    A question about a person, place or body the articles never mention cannot be
    answered from them, however well the rest of its words match.
    """
    return [name for name, alike in spellings.items() if alike is None]


def respelled(
    terms: Mapping[str, float], spellings: Mapping[str, str | None], index: LexicalIndex
) -> dict[str, float]:
    """The question's term weights with each name the collection does not know, but a word
    of the passages spells alike (unknown_spellings: "Zelenski"), read as that word
    ("Zelensky"): its stems weigh their IDF in place of the unknown ones, so the sentences
    naming it cover them."""
    out = dict(terms)
    for name, alike in spellings.items():
        if alike is None:
            continue
        for stem in analyze(name):
            out.pop(stem, None)
        for stem in analyze(alike):
            out[stem] = max(out.get(stem, 0.0), index.idf(stem))
    return out


def passage_words(passages: Sequence[str]) -> set[str]:
    """Every word of the passages, lowercased (stopwords too: "TUE" is one)."""
    return {w for p in passages for w in _WORD.findall(p.lower())}


def alike_word(name: str, words: Set[str]) -> str | None:
    """The word of `words` spelled nearest to `name` among those that spell it alike
    (spelled_alike; the first in alphabetical order of equals), or None."""
    alike = [w for w in sorted(words) if spelled_alike(name, w)]
    return max(alike, key=lambda w: spelling_ratio(name, w)) if alike else None


def spelled_alike(name: str, word: str) -> bool:
    """Whether the (lowercase) `word` writes `name` another way: "Zelenski" and "zelensky",
    "Blanca" and "bianca", "Koursk" and "kursk"; an acronym's letters in another order
    ("OTAN" and "nato", "TEU" and "tue": each language orders its own)."""
    if name.isupper() and len(name) > 1:
        return sorted(name.lower()) == sorted(word)
    return spelling_ratio(name, word) >= SPELLED_ALIKE


def spelling_ratio(name: str, word: str) -> float:
    """How alike `name` (lowercased) and `word` are spelled: difflib's ratio, 0 to 1."""
    return difflib.SequenceMatcher(None, name.lower(), word).ratio()


def was_quoted(key: tuple[str, int], text: str, said: str, leads: Leads | None) -> bool:
    """Whether the sentence at `key` (doc_id, offset) with these words was quoted in the
    previous answer: its words are in `said` (that answer's text), or `leads` found it
    there (verbatim or in other words)."""
    return bool(said and text in said) or (leads is not None and key in leads.quoted)


def coverage(terms: Mapping[str, float], sentence_terms: set[str]) -> float:
    """Share of the question's weight that the sentence contains (0 when nothing to match)."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in terms.items() if t in sentence_terms) / total


def score_sentences(
    terms: Mapping[str, float],
    ranked_chunks: Sequence[Chunk],
    kind: str | None = None,
    sentence_index: LexicalIndex | None = None,
    said: str = "",
    similarity: Similarity | None = None,
    leads: Leads | None = None,
    asked: str | None = None,
    dense_only: int | None = None,
) -> list[ScoredSentence]:
    """Sentences of the retrieved chunks that can hold an answer of the expected `kind`,
    best first; duplicates from chunk overlaps are dropped.

    A sentence scores by its coverage of the question's weighted terms, the words of the
    sentence before it counting as its own (a sentence refers back to what the one before
    names: "Egli…", "In entrambi i casi…"; only its own words make it eligible to answer,
    in pick_sentences), blended with its BM25 against the sentence index (term frequency
    and length matter there), plus a small prior for better-retrieved chunks; with a
    dense `similarity`, the lexical score is blended with the question's cosine to the
    sentence (spread so that the candidates' worst is 0 and best 1), which also reads a
    question in another language.
    Sentences already `said` (quoted in the previous answer, or in `leads.quoted`) count
    SAID_SHARE of their score: a follow-up usually asks for something new, but when the
    detail it asks for is in the previous answer ("In che città?" after a sentence naming
    it), that sentence still answers best; one holding most of what the follow-up asks
    about (`leads.asked_about`) counts in full. A follow-up's `leads` (rag.answering.followup)
    add to the scores of the previous answer's neighbours and mark the quotes that answer.
    When the question asks for a kind of words (`asked`: rag.answering.span's kind, a person
    for "chi…?", a place for "dove…?"), a sentence holding some that are not the question's
    own gains KIND_BONUS. With `dense_only`, only that many sentences, the best by their
    score without the cosine (bonuses included), are compared with the question (each costs
    an embedding); the rest keep that score alone."""
    seen: set[tuple[str, int]] = set()
    known = set(terms)  # the question's own stems: words of the kind asked for must be others
    found: list[_Candidate] = []
    for rank, chunk in enumerate(ranked_chunks, start=1):
        before: list[str] = []  # the words of the sentence before this one in the passage
        for s, e in sentence_spans(chunk.text):
            key = (chunk.doc_id, chunk.start + s)
            text = chunk.text[s:e]
            tokens = analyze(text)  # once per sentence: the next one reads them as context
            previous, before = before, tokens
            if (
                key in seen
                or len(text.split()) < MIN_ANSWER_WORDS
                or not text.endswith(_SENTENCE_END)
                or not has_type(text, kind, terms.keys())
            ):
                continue
            seen.add(key)
            # A quote holding what the follow-up asks about answers it as if new.
            asked_about = leads is not None and key in leads.asked_about
            quoted = was_quoted(key, text, said, leads) and not asked_about
            typed = KIND_BONUS if asked and candidates(text, asked, known) else 0.0
            found.append(
                _Candidate(
                    chunk,
                    chunk.start + s,
                    text,
                    coverage(terms, set(tokens)),
                    coverage(terms, {*tokens, *previous}),
                    sentence_index.score(list(terms), tokens) if sentence_index else 0.0,
                    RANK_PRIOR / rank + typed + (leads.bonus.get(key, 0.0) if leads else 0.0),
                    SAID_SHARE if quoted else 1.0,
                )
            )
    top = max((c.bm25 for c in found), default=0.0) or 1.0
    lexical = [
        (1 - BM25_SHARE) * c.context_cov + BM25_SHARE * c.bm25 / top
        if sentence_index
        else c.context_cov
        for c in found
    ]
    cosines, spreads = [0.0] * len(found), [0.0] * len(found)
    if similarity and found:
        compared = dense_subset(
            [(lex + c.extra) * c.share for lex, c in zip(lexical, found, strict=True)],
            dense_only,
        )
        found_cosines = similarity([found[i].text for i in compared])
        for i, cos, spread in zip(compared, found_cosines, unit_range(found_cosines), strict=True):
            cosines[i], spreads[i] = cos, spread
    scored: list[ScoredSentence] = []
    for c, blended, cos, spread in zip(found, lexical, cosines, spreads, strict=True):
        if similarity:
            blended = (1 - DENSE_SHARE) * blended + DENSE_SHARE * spread
        key = (c.chunk.doc_id, c.start)
        scored.append(
            ScoredSentence(
                c.chunk,
                c.start,
                c.start + len(c.text),
                c.cov,
                (blended + c.extra) * c.share,
                cos,
                leads is not None and key in leads.answering,
                leads is not None and key in leads.bonus,
                c.context_cov,
            )
        )
    return sorted(scored, key=lambda x: -x.score)


def dense_subset(lexical: Sequence[float], most: int | None) -> list[int]:
    """Positions of the `most` best of the scores (all when `most` is None), in order."""
    if most is None or most >= len(lexical):
        return list(range(len(lexical)))
    best = sorted(range(len(lexical)), key=lambda i: -lexical[i])[:most]
    return sorted(best)


def pick_sentences(
    scored: Sequence[ScoredSentence],
    most: int,
    abstain_below: float,
    dense_below: float | None = None,
) -> list[ScoredSentence]:
    """The best sentence and close runners-up among those holding at least `abstain_below`
    of the question's weight; empty when none does (the evidence is too weak). When
    `dense_below` is given (a question in another language: its words, stemmed as Italian,
    match Italian sentences by accident, measured on the tuning set), a sentence's cosine
    to the question must reach it instead. A follow-up's quote that holds the kind of words
    asked for is eligible either way, and so, in another language, is a sentence next to the
    previous answer's quotes: the floor keeps out sentences matched by accident anywhere in
    the collection, and the conversation vouches for that passage ("What did the Jin emperor
    do then?" is answered two sentences after the last answer, at cosine 0.82). So is a
    sentence translating most of the foreign question's words (ALIGNED_ENOUGH of their
    weight, rag.answering.crosslingual) at a cosine up to ALIGNED_FLOOR_SLACK under the
    floor: a long news sentence sits lower to a short question ("Who is the Kremlin
    spokesman who ruled out…?" finds the Peskov quote at 0.821)."""
    eligible = [
        s
        for s in scored
        if s.answering
        or (
            s.near
            or s.cosine >= dense_below
            or (s.aligned >= ALIGNED_ENOUGH and s.cosine >= dense_below - ALIGNED_FLOOR_SLACK)
            if dense_below is not None
            else s.coverage >= abstain_below
        )
    ]
    if not eligible:
        return []
    best = eligible[0]
    # An article may say the same words twice (SQuAD-it's repeat whole sentences): one quote.
    picked = [best]
    for s in eligible[1:]:
        close = s.score >= FOLLOW_RATIO * best.score
        if len(picked) < most and close and all(s.text != p.text for p in picked):
            picked.append(s)
    return picked


def compose_answer(
    question: str,
    picked: Sequence[ScoredSentence],
    ranked: Sequence[tuple[Chunk, float]],
    bodies: Mapping[str, str],
    top_k: int,
    weights: Mapping[str, float] | None = None,
    asking: str | None = None,
) -> Answer:
    """Answer text with `[n]` markers, its citations (quotes cut from the bodies) and sources.
    With the question's term `weights`, the first quote holding words of the kind the
    question asks for (a name, a place, a number, a date) carries them as its `span`; a
    follow-up's kind is that of its `asking` question (rag.answering.followup)."""
    sources = [
        Source(
            doc_id=c.doc_id,
            title=c.title,
            date=c.date,
            source=c.source,
            text=c.text[:SOURCE_MAX_CHARS],
            start=c.start,
            end=min(c.end, c.start + SOURCE_MAX_CHARS),
            score=round(score, 6),
        )
        for c, score in ranked[:top_k]
    ]
    citations = [
        Citation.cut(n, s.chunk, bodies[s.chunk.doc_id], s.start, s.end)
        for n, s in enumerate(picked, start=1)
    ]
    if weights is not None:
        citations = with_span(citations, asking or question, weights, bodies)
    parts = [f"{c.quote} [{c.n}]" for c in citations]
    if not citations:
        return Answer(
            answer=abstention_message(question), abstained=True, citations=[], sources=sources
        )
    return Answer(answer=" ".join(parts), abstained=False, citations=citations, sources=sources)
