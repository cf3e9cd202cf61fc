"""What a follow-up is about: by default, the articles its conversation's last answer
quoted ("E in che città?" asks about the same forum), unless the question names
someone or something the conversation has not mentioned (it changes topic).

The history a client sends is text only, so the quoted articles are found again from
the previous answer's quotes, which are verbatim sentences of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from rag.retrieval.answer_types import asked_names
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.lexical import analyze
from vectorstore.documents import Chunk

FOCUS_SHARE = 0.3  # of the candidates' score range, added to chunks of the quoted articles
TOPIC_SHARE = 0.5
SEARCH_DEPTH = 50
MIN_QUOTE_TERMS = 3  # shorter pieces of an answer (an abstention's words) find nothing
_MARKER = re.compile(r"\s*\[\d+\]\s*")


def quoted_articles(history: Sequence[Mapping[str, str]], corpus: LexicalCorpus) -> set[str]:
    """The articles the last answer in `history` quoted (each quote found verbatim in a
    chunk of the corpus); empty when there is no answer or it quoted nothing."""
    answers = [m["content"] for m in history if m.get("role") == "assistant" and m.get("content")]
    if not answers:
        return set()
    found: set[str] = set()
    for quote in filter(None, (q.strip() for q in _MARKER.split(answers[-1]))):
        terms = analyze(quote)
        if len(terms) < MIN_QUOTE_TERMS:
            continue
        for sentence, _ in corpus.sentences.search(terms, 1):
            chunks = [corpus.chunks[p] for p in corpus.sentence_chunks[sentence]]
            found |= {c.doc_id for c in chunks if quote in c.text}
    return found


def changes_topic(
    question: str,
    history: Sequence[Mapping[str, str]],
    corpus: LexicalCorpus,
    articles: Collection[str],
    own_words: bool = True,
) -> bool:
    """Whether the question turns away from the conversation's `articles`: it names
    someone or something (a capitalised word, not the one opening it) that the articles
    know and the conversation has not mentioned; or (`own_words`: its own words say what
    it is about, and are Italian as the articles') its words' best chunk in those
    articles scores under TOPIC_SHARE of their best anywhere (BM25): "Chi ha scoperto
    l'ossigeno?" after a talk about Jacksonville."""
    index = corpus.index
    said = set(analyze(" ".join(m.get("content", "") for m in history)))
    for _, stems in asked_names(question):
        if stems and not set(stems) & said and any(index.df(t) for t in stems):
            return True
    terms = analyze(question)
    if not own_words or not terms or not articles:
        return False
    hits = corpus.index.search(terms, SEARCH_DEPTH)
    best = hits[0][1] if hits else 0.0
    here = max((s for p, s in hits if corpus.chunks[p].doc_id in articles), default=0.0)
    return here < TOPIC_SHARE * best


def focused(
    ranked: Sequence[tuple[Chunk, float]], articles: Collection[str], share: float = FOCUS_SHARE
) -> list[tuple[Chunk, float]]:
    """`ranked` with chunks of `articles` raised by `share` of the scores' range."""
    if not articles or not ranked:
        return list(ranked)
    scores = [s for _, s in ranked]
    bonus = share * ((max(scores) - min(scores)) or 1.0)
    raised = [(c, s + bonus if c.doc_id in articles else s) for c, s in ranked]
    return sorted(raised, key=lambda item: -item[1])
