"""The extractive answer to retrieved evidence: which sentences answer, quoted and checked.

`NewsQA` retrieves; this step chooses. It gathers the candidate sentences (the best
passages, or a follow-up's own article and the previous answer's neighbourhood), scores
them by the question's words and its e5 cosine (rag.answering.extractive), re-scores a
foreign question's by its words' translations (rag.answering.crosslingual), keeps the best
and close runners-up, or none (also when a follow-up would repeat the last answer's quote
though its words pull away from it: pulled_away), and withholds an answer whose quote does
not match its article at the stated offsets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence, Set

from rag.answering.citations import invalid_citations
from rag.answering.crosslingual import (
    aligned_shares,
    nearest_sentences,
    unmatched_names,
    with_aligned_words,
)
from rag.answering.extractive import (
    Answer,
    ScoredSentence,
    Similarity,
    compose_answer,
    passage_words,
    pick_sentences,
    previous_answer,
    respelled,
    score_sentences,
    unknown_names,
    unknown_spellings,
    was_quoted,
)
from rag.answering.followup import (
    Leads,
    around,
    asking_question,
    leads,
    new_terms,
    opens_with_and,
)
from rag.answering.language import detect_language
from rag.answering.span import span_kind
from rag.answering.state import Query, Retrieved
from rag.errors import NewsragError
from rag.retrieval.answer_types import expected_type
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.dense import DenseScorer
from rag.retrieval.focus import names_not_said, says_topic_changes, turns
from rag.retrieval.hybrid import from_document, is_elliptical
from rag.retrieval.lexical import analyze
from rag.retrieval.rerank import shipped_model
from rag.settings import Settings
from vectorstore.documents import Chunk

ANSWER_CHUNKS = 4  # passages whose sentences compete for the answer

# the bodies of these articles, as the evidence read them (citation offsets refer to them)
Bodies = Callable[[Iterable[str]], dict[str, str]]


def doubted(
    query: Query, ranked: Sequence[tuple[Chunk, float]], settings: Settings, store_model: str
) -> bool:
    """Whether the re-ranker's score of the best passage for a question asked alone falls
    under the evidence floor (settings.evidence_abstain_below, by default the one fitted with
    its weights: eval.fit_reranker). Its words may be all over the collection, yet no passage
    holds them as an answer would; on the dev half with each question's evidence removed, the
    floor abstains on about a quarter of them, at one answerable question in a thousand
    (README).
    A follow-up's words say little alone, and a foreign question's reach the Italian stems
    by accident: neither is doubted on that score. The fitted floor reads the scores the
    weights give with their model's cosines: over a store of another model (`store_model`,
    as the store records it: MiniLM's cosines sit far lower) or without dense retrieval (no
    cosine), the re-ranker leaves its cosine features out (rag.retrieval.rerank.without_dense),
    its scores are others, and only a floor set in the settings applies."""
    if query.history or not settings.rerank or not ranked:
        return False
    floor = settings.evidence_abstain_below
    if floor is None:
        model = shipped_model()
        if settings.dense_weight <= 0 or not model.reads(store_model):
            return False
        floor = model.abstain_below
    return max(score for _, score in ranked) < floor


def answer_chunks(chunks: Sequence[Chunk], focus: frozenset[str]) -> list[Chunk]:
    """The passages whose sentences may answer: the best ANSWER_CHUNKS, or for a follow-up
    on the same topic those of the conversation's articles (rag.retrieval.focus) among them:
    "How old was he?" is about the man of the last answer, not anyone's age in other
    articles. Only the best ANSWER_CHUNKS are read either way, so the answer does not
    depend on how many sources were asked for (`top_k`: the evaluation asks for 10, to
    measure hit@10, where the chat shows 4; stop 42 found follow-ups answered otherwise)."""
    best = list(chunks[:ANSWER_CHUNKS])
    return [c for c in best if c.doc_id in focus] if focus else best


def said_before(s: ScoredSentence, said: str, found: Leads) -> bool:
    """Whether candidate `s` was quoted in the previous answer (extractive.was_quoted)."""
    return was_quoted((s.chunk.doc_id, s.start), s.text, said, found)


def for_fragment(
    scored: Sequence[ScoredSentence], own: set[str], found: Leads, said: str
) -> list[ScoredSentence]:
    """A fragment's candidates ("E Macron?": the last question asked about what it names,
    its `own` stems). A quote of the previous answer (`found.quoted`, or a sentence `said`
    in it) that holds none of them answered another question, and is dropped. The rest
    may answer by the sentence before them too, where the fragment's subject is often
    named ("Macron ha promesso… Tuttavia, non ha fornito dettagli…")."""
    out = []
    for s in scored:
        if not said_before(s, said, found) or own & set(analyze(s.text)):
            out.append(dataclasses.replace(s, coverage=max(s.coverage, s.context)))
    return out


def naming_the_new(
    scored: Sequence[ScoredSentence], names: Sequence[Sequence[str]], found: Leads, said: str
) -> list[ScoredSentence]:
    """A follow-up's candidates, less the previous answer's quotes that hold none of the
    `names` (each as its stems) it asks about and the conversation has not mentioned: "E
    quanti ne manderebbe la Francia?" after a quote of how many troops might be deployed is
    about France, which that quote does not name, as for_fragment judges "E Macron?". Asked
    of a follow-up opening with "e", "and"… (followup.opens_with_and), which sets the name
    against the last exchange's subject: a name said in passing ("…le garanzie per Kiev?"
    after a quote that says "l'Ucraina") is no new subject (stop 43, README)."""
    if not names:
        return list(scored)
    return [
        s
        for s in scored
        if not said_before(s, said, found)
        or any(set(stems) <= set(analyze(s.text)) for stems in names)
    ]


def unsaid(scored: Sequence[ScoredSentence], found: Leads, said: str) -> list[ScoredSentence]:
    """The candidates that the previous answer did not quote: a question saying it is on
    something else (focus.says_topic_changes) is not answered by what was just said."""
    return [s for s in scored if not said_before(s, said, found)]


def unsaid_names(
    question: str, history: Sequence[Mapping[str, str]], corpus: LexicalCorpus
) -> list[list[str]]:
    """The stems of each name the question asks about that no turn of the conversation holds
    (focus.names_not_said) and the collection does (spelled as the articles spell it)."""
    return [
        stems
        for stems in names_not_said(question, history)
        if all(corpus.index.df(t) for t in stems)
    ]


def pulled_away(joined: float, alone: float, floor: float) -> bool:
    """Whether a follow-up's words move the conversation off a sentence: the cosine of the
    last question joined to the follow-up (`joined`) gains less than `floor` over that of
    the last question `alone`. Words the sentence answers draw the pair nearer ("A quale
    agenzia ha parlato?" to the Peskov quote naming RIA); words asking for what it does not
    hold draw it away ("Chi governava l'Egitto in quel periodo?" from the quote of the
    plague reaching Alexandria). Asked of the last answer's quotes, which answer again only
    when they hold the detail asked for: on six follow-up sets, 13 unanswerable follow-ups
    re-quoting the last answer fall under -0.01 and no right answer does (stop 44, README)."""
    return joined - alone < floor


class SentenceAnswerer:
    """Chooses and quotes the sentences that answer a question from its evidence."""

    def __init__(self, dense: DenseScorer) -> None:
        self.dense = dense

    def answer(self, state: Retrieved, settings: Settings, bodies: Bodies) -> Answer:
        """The answer to `state`'s question under `settings` (the service's, read at each
        question: an evaluation swaps them): its sentences quoted with their citations, or
        an abstention when no sentence holds enough of the question."""
        query = state.query
        ranked = [(from_document(d), float(d.metadata["score"])) for d in state.documents]
        chunks = [c for c, _ in ranked]
        # "E Macron?" after "Quante truppe…?" asks for a number too (rag.answering.followup).
        asking = asking_question(query.question, query.history)
        kind = expected_type(asking)
        # Italian-only rules: another language's ordinary capitalised words are no unknown
        # names, and its words cannot cover an Italian sentence's, so the cosine decides.
        language = detect_language(query.question)
        italian = language == "it"
        dense_floor = (
            None if italian or settings.dense_weight <= 0 else settings.dense_abstain_below
        )
        focus_bodies = bodies(state.focus)
        near = around(state.quotes, focus_bodies)
        said = previous_answer(query.history)
        passages = [*answer_chunks(chunks, state.focus), *near.passages]
        words = passage_words([p.text for p in passages])
        # A name the passages spell otherwise ("Zelenski") is read as they write it ("Zelensky")
        spellings = unknown_spellings(query.question, state.corpus.index, words)
        terms = respelled(state.terms, spellings, state.corpus.index)
        new = new_terms(terms, query.question, query.history)  # a quote may hold what it asks
        found_leads = leads(query.question, terms.keys(), near, focus_bodies, new)
        scored = (
            # the question is about someone or something the articles never mention, or
            # the re-ranker doubts that even the best passage holds its answer
            []
            if italian
            and (
                unknown_names(spellings)
                or doubted(query, ranked, settings, self.dense.store.embedding_model)
            )
            else score_sentences(
                terms,
                passages,
                kind,
                state.corpus.sentences,
                said,
                self._sentence_similarity(
                    settings, query.question, query.history, bool(state.quotes)
                ),
                found_leads,
                # A follow-up says little in its own words, and a foreign question's words
                # reach the Italian stems as little: the kind of words it asks for weighs
                # more there (measured; on Italian single questions it lengthened the
                # answers past their budget).
                span_kind(asking) if query.history or not italian else None,
                # Each compared sentence costs an embedding; an Italian question's own
                # words already rank its candidates (a foreign question's do not).
                (settings.dense_sentences or None) if italian else None,
            )
        )
        if asking != query.question:  # a fragment: the previous answer answered another
            scored = for_fragment(scored, set(analyze(query.question)), found_leads, said)
        elif query.history and says_topic_changes(query.question):
            scored = unsaid(scored, found_leads, said)  # "Altra cosa: …" asks something else
        elif query.history and opens_with_and(query.question):
            scored = naming_the_new(
                scored, unsaid_names(query.question, query.history, state.corpus), found_leads, said
            )
        scored = self._aligned(settings, query.question, language, state.corpus, scored)
        if not italian and self._unmatched(settings, query, language, state.corpus, words, scored):
            if state.quotes:
                # A follow-up about someone the conversation's article never names is on
                # another topic, which a foreign question's words cannot tell the retrieval
                # (rag.retrieval.focus reads names and words as the articles spell them).
                return self.answer(dataclasses.replace(state, quotes=()), settings, bodies)
            scored = []  # ... in another language: no spelling or translation of a name it asks
        picked = pick_sentences(
            scored,
            settings.answer_sentences,
            settings.abstain_below,
            dense_floor,
        )
        if (
            picked
            and said_before(picked[0], said, found_leads)
            and self._drifted(settings, query, picked[0].text)
        ):
            picked = []  # the last answer holds what the conversation asked, not what this asks
        quoted = bodies({p.chunk.doc_id for p in picked})
        answer = compose_answer(query.question, picked, ranked, quoted, query.top_k, terms, asking)
        if invalid_citations(answer.citations, quoted):
            raise NewsragError("a citation did not match its article; the answer was withheld")
        return answer

    def _aligned(
        self,
        settings: Settings,
        question: str,
        language: str,
        corpus: LexicalCorpus,
        scored: list[ScoredSentence],
    ) -> list[ScoredSentence]:
        """For a question in another language, the candidates re-scored with its words
        aligned to theirs (rag.answering.crosslingual); an Italian question's as they are."""
        if language == "it" or settings.dense_weight <= 0 or not settings.align_words:
            return scored
        idf = corpus.index.idf  # the snapshot the question was answered from
        return with_aligned_words(
            scored,
            lambda texts: aligned_shares(question, language, texts, self.dense.word_vectors, idf),
        )

    def _unmatched(
        self,
        settings: Settings,
        query: Query,
        language: str,
        corpus: LexicalCorpus,
        words: Set[str],
        scored: Sequence[ScoredSentence],
    ) -> list[str]:
        """A foreign question's names that neither the collection nor its evidence (the
        candidate passages' `words`, the `scored` sentences nearest to it) holds in any
        spelling or translation (rag.answering.crosslingual.unmatched_names)."""
        if settings.dense_weight <= 0 or not settings.align_words:
            return []
        return unmatched_names(
            query.question,
            language,
            words,
            [scored[i].text for i in nearest_sentences(scored)],
            self.dense.word_vectors,
            corpus.index.df,
        )

    def _drifted(self, settings: Settings, query: Query, best: str) -> bool:
        """Whether a follow-up's words pull its `best` sentence, a quote of the last answer,
        away from the conversation (pulled_away), by the e5 cosines the floor was measured
        with."""
        asked = turns(query.history, "user")
        if not asked or settings.dense_weight <= 0 or settings.followup_pull_below <= -1:
            return False
        if not shipped_model().reads(self.dense.store.embedding_model):
            return False  # another model's cosines: the floor says nothing of them
        cosines = self.dense.sentence_cosines
        joined = cosines(f"{asked[-1]} {query.question}", [best])[0]
        alone = cosines(asked[-1], [best])[0]
        return pulled_away(joined, alone, settings.followup_pull_below)

    def _sentence_similarity(
        self,
        settings: Settings,
        question: str,
        history: Sequence[Mapping[str, str]],
        quoted: bool = True,
    ) -> Similarity | None:
        """The question's cosine to candidate sentences, when the dense model takes part;
        for a follow-up, the better of its own and that of the previous question joined to
        it ("How old was he then?" says little alone). A follow-up pointing back ("he",
        "lui", "E…": is_elliptical) at a conversation that `quoted` nothing (its answer
        abstained) is read with the previous question only: "What did he say about the
        troops?" after "Who is the mayor of Rome?" is about him, not whoever spoke of troops."""
        if settings.dense_weight <= 0:
            return None
        cosines = self.dense.sentence_cosines
        asked = turns(history, "user")
        if not asked:
            return lambda sentences: cosines(question, sentences)
        context = f"{asked[-1]} {question}"
        if not quoted and is_elliptical(question):
            return lambda sentences: cosines(context, sentences)
        return lambda sentences: [
            max(a, b)
            for a, b in zip(cosines(question, sentences), cosines(context, sentences), strict=True)
        ]
