"""Pure follow-up logic: finding the previous answer's sentences in their articles (verbatim
or in other words), their neighbourhood and its bonuses, topic changes, and picking a
quoted sentence that holds the detail asked for."""

from __future__ import annotations

import dataclasses

import pytest

from rag.answering.extractive import (
    ScoredSentence,
    pick_sentences,
    question_terms,
    score_sentences,
)
from rag.answering.followup import (
    NEAR_BONUS,
    REACH,
    Leads,
    around,
    asking_question,
    holds_new_words,
    is_fragment,
    leads,
    nearness_bonus,
    new_terms,
    opens_with_and,
)
from rag.answering.quoting import (
    ANSWER_CHUNKS,
    answer_chunks,
    for_fragment,
    naming_the_new,
    pulled_away,
    unsaid,
    unsaid_names,
)
from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.focus import changes_topic, previous_quotes, says_topic_changes
from rag.retrieval.hybrid import is_elliptical
from vectorstore.documents import Chunk

QUOTE = (
    "Il portavoce Dmitry Peskov ha risposto all'agenzia statale RIA durante il forum di "
    "Vladivostok."
)
FORUM = (
    "Il Cremlino ha parlato venerdì. "
    f"{QUOTE} "
    "Ha aggiunto che nessuna truppa straniera sarà accettata sul terreno. "
    "I colloqui di Istanbul risalgono al 2022. "
    "Macron ha promesso un sostegno europeo rapido. "
    "Il vertice di Parigi ha riunito ventisei nazioni."
)
SPORT = (
    "La finale si è giocata allo stadio di Santa Clara. "
    "La BBC ha trasmesso la partita con Greg Brady al commento. "
    "Il pubblico ha applaudito a lungo la squadra vincitrice."
)
BODIES = {"forum": FORUM, "sport": SPORT}


def chunk(doc: str, start: int, end: int) -> Chunk:
    body = BODIES[doc]
    return Chunk(doc, start, start, end, body[start:end], title=doc, date="2025-09-05", source="s")


def corpus() -> LexicalCorpus:
    """Each article in two chunks, split at a sentence boundary."""
    cut = FORUM.index("I colloqui")
    return LexicalCorpus.build(
        [
            chunk("forum", 0, cut - 1),
            chunk("forum", cut, len(FORUM)),
            chunk("sport", 0, len(SPORT)),
        ]
    )


def history(answer: str, asked: str = "Chi è il portavoce del Cremlino?") -> list[dict[str, str]]:
    return [{"role": "user", "content": asked}, {"role": "assistant", "content": answer}]


def test_a_verbatim_quote_is_found_at_its_offsets() -> None:
    quotes = previous_quotes(history(f"{QUOTE} [1]"), corpus())
    assert len(quotes) == 1
    q = quotes[0]
    assert q.chunk.doc_id == "forum"
    assert FORUM[q.start : q.end] == QUOTE


def test_an_answer_in_other_words_stands_for_the_sentence_holding_most_of_them() -> None:
    """A language model's or a client's own wording: the article sentence holding most of
    its terms is the one it stands for; an answer sharing few words finds nothing."""
    paraphrase = "Sì, Peskov ha risposto all'agenzia RIA al forum di Vladivostok."
    quotes = previous_quotes(history(paraphrase), corpus())
    assert [FORUM[q.start : q.end] for q in quotes] == [QUOTE]
    assert previous_quotes(history("Ne hanno parlato in molti, tra cui la stampa."), corpus()) == []
    assert previous_quotes(history("Non ho trovato la risposta negli articoli."), corpus()) == []
    assert previous_quotes([{"role": "user", "content": QUOTE}], corpus()) == []


def test_a_short_answer_stands_for_the_sentence_answering_the_question_it_answered() -> None:
    """ "Dmitry Peskov." has too few words to find alone: the sentence that best answers the
    question before it and holds the name is the one it came from."""
    turns = history("Dmitry Peskov.", asked="Chi ha risposto all'agenzia RIA?")
    assert [FORUM[q.start : q.end] for q in previous_quotes(turns, corpus())] == [QUOTE]
    unknown = history("Mario Rossi.", asked="Chi ha risposto all'agenzia RIA?")
    assert previous_quotes(unknown, corpus()) == []


def test_the_neighbourhood_reaches_two_sentences_each_side_across_chunks() -> None:
    quotes = previous_quotes(history(f"{QUOTE} [1]"), corpus())
    near = around(quotes, BODIES)
    (passage,) = near.passages
    assert passage.text == FORUM[passage.start : passage.end]  # verbatim slice of the body
    assert passage.text.startswith("Il Cremlino") and passage.text.endswith("al 2022.")
    by_text = {FORUM[s:e]: d for (doc, s), (d, e) in near.distance.items()}
    assert by_text[QUOTE] == 0
    assert by_text["Il Cremlino ha parlato venerdì."] == 1
    assert by_text["I colloqui di Istanbul risalgono al 2022."] == 2  # in the next chunk
    assert max(by_text.values()) == REACH
    # An article changed since (the quote no longer at its offsets) adds nothing.
    assert around(quotes, {"forum": "Un altro testo."}).passages == []


@pytest.mark.parametrize(
    ("question", "distance", "sentence", "bonus"),
    [
        ("Ha aggiunto altro?", 1, "Ha aggiunto che nessuna truppa sarà accettata.", NEAR_BONUS),
        ("Ha aggiunto altro?", 2, "I colloqui di Istanbul risalgono al 2022.", NEAR_BONUS / 2),
        ("Ha aggiunto altro?", 3, "Macron ha promesso un sostegno europeo rapido.", 0.0),
        # The quote itself: only for a question asking for a kind of words it holds.
        ("A quale agenzia ha parlato?", 0, QUOTE, NEAR_BONUS),
        ("Ha aggiunto altro?", 0, QUOTE, 0.0),
        ("Quanti soldati?", 0, QUOTE, 0.0),  # no number in it
    ],
)
def test_nearness_bonus(question: str, distance: int, sentence: str, bonus: float) -> None:
    assert nearness_bonus(question, {"portavoc", "cremlin"}, distance, sentence) == bonus


def test_a_quote_holding_the_detail_answers_though_the_question_words_are_not_in_it() -> None:
    """ "E chi c'era a bordo campo?" shares no word with the sentence that names them: the
    quoted sentence holding an unasked name is eligible and, with its bonus, wins; without
    the conversation the same question finds nothing to answer."""
    c = corpus()
    asked = "A quale agenzia ha parlato?"
    turns = history(f"{QUOTE} [1]")
    terms = question_terms(asked, turns, c.index)
    near = around(previous_quotes(turns, c), BODIES)
    found = leads(asked, terms.keys(), near, BODIES)
    scored = score_sentences(
        terms, near.passages, None, c.sentences, turns[-1]["content"], None, found
    )
    picked = pick_sentences(scored, 1, 0.9)  # a floor no sentence's coverage reaches
    assert [FORUM[p.start : p.end] for p in picked] == [QUOTE]
    assert picked[0].answering
    alone = score_sentences(terms, near.passages, None, c.sentences)
    assert pick_sentences(alone, 1, 0.9) == []


def test_new_terms_are_the_follow_ups_own_words_no_earlier_question_asked() -> None:
    c = corpus()
    turns = history(f"{QUOTE} [1]")
    asked = "Durante quale forum ha risposto il portavoce?"
    terms = question_terms(asked, turns, c.index)
    new = new_terms(terms, asked, turns)
    assert set(new) == {"durant", "forum", "rispond"} and new["forum"] == terms["forum"]
    assert "portavoc" in terms and "portavoc" not in new  # asked before: not new
    assert holds_new_words(QUOTE, new)
    assert not holds_new_words(
        "Il forum si è svolto a Vladivostok.", new
    )  # "forum" alone: under half
    assert not holds_new_words(QUOTE, {})


def test_a_quote_holding_the_words_a_follow_up_asks_about_answers_again() -> None:
    """ "Durante quale forum ha risposto il portavoce?" asks for no kind of words the quote
    holds, but about its own words ("forum", "risposto"), which the first question did not
    ask: the quote may answer again, as a quote holding the kind of words asked for may,
    whatever its coverage; without the rule it may not (a floor no sentence reaches)."""
    c = corpus()
    turns = history(f"{QUOTE} [1]")
    asked = "Durante quale forum ha risposto il portavoce?"
    terms = question_terms(asked, turns, c.index)
    near = around(previous_quotes(turns, c), BODIES)
    said = turns[-1]["content"]
    new = new_terms(terms, asked, turns)
    found = leads(asked, terms.keys(), near, BODIES, new)
    scored = score_sentences(terms, near.passages, None, c.sentences, said, None, found)
    picked = pick_sentences(scored, 1, 0.99)
    assert [FORUM[p.start : p.end] for p in picked] == [QUOTE] and picked[0].answering
    assert nearness_bonus(asked, terms.keys(), 0, QUOTE, new) == NEAR_BONUS
    assert nearness_bonus(asked, terms.keys(), 0, QUOTE) == 0.0
    assert found.asked_about == found.quoted  # not counted as said already either
    without = leads(asked, terms.keys(), near, BODIES)
    assert not without.answering and not without.asked_about
    before = score_sentences(terms, near.passages, None, c.sentences, said, None, without)
    assert pick_sentences(before, 1, 0.99) == []


def test_in_another_language_the_previous_answers_neighbours_pass_the_cosine_floor() -> None:
    """An English follow-up is held to a cosine floor, which keeps out sentences matched by
    accident anywhere in the collection; next to the previous answer's quote, the
    conversation vouches for the passage, so a neighbour under the floor may answer."""
    c = corpus()
    asked = "What did he add?"
    turns = history(f"{QUOTE} [1]", "Who is the Kremlin spokesman?")
    terms = question_terms(asked, turns, c.index)
    near = around(previous_quotes(turns, c), BODIES)
    found = leads(asked, terms.keys(), near, BODIES)
    added = "Ha aggiunto che nessuna truppa straniera sarà accettata sul terreno."

    def cosines(texts: list[str] | tuple[str, ...]) -> list[float]:
        return [0.82 if t == added else 0.80 for t in texts]

    scored = score_sentences(
        terms, near.passages, None, c.sentences, turns[-1]["content"], cosines, found
    )
    picked = pick_sentences(scored, 1, 0.1, dense_below=0.83)
    assert [FORUM[p.start : p.end] for p in picked] == [added] and picked[0].near
    alone = score_sentences(terms, near.passages, None, c.sentences, similarity=cosines)
    assert pick_sentences(alone, 1, 0.1, dense_below=0.83) == []  # no conversation: floor


def test_a_name_the_conversations_article_holds_is_no_change_of_topic() -> None:
    c = corpus()
    turns = history(f"{QUOTE} [1]")
    assert not changes_topic("E Macron cosa ha detto?", turns, c, {"forum"})
    assert changes_topic("E la BBC cosa ha trasmesso?", turns, c, {"forum"})
    assert not changes_topic("E Macron cosa ha detto?", turns, c, {"forum"}, own_words=False)


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("Cambiando argomento: in che anno arrivò la peste a Costantinopoli?", True),
        ("Altra cosa: per Mosca qual è una delle cause della guerra?", True),
        ("Passando ad altro, chi ha scoperto l'ossigeno?", True),
        ("On another note, who founded Harvard?", True),
        ("Qual è un'altra cosa che ha detto?", False),  # "another thing" he said: the same talk
        ("Going back to the city's origins: who founded it?", False),  # maybe this very topic
        ("E Macron cosa ha detto?", False),
    ],
)
def test_a_question_may_say_it_changes_topic(question: str, said: bool) -> None:
    assert says_topic_changes(question) is said


def test_a_change_of_topic_said_leaves_the_conversations_article() -> None:
    """Said so, a question leaves the conversation's articles, whatever words it shares
    with them."""
    turns = history(f"{QUOTE} [1]")
    assert not changes_topic("Cosa ha promesso Macron?", turns, corpus(), {"forum"})
    assert changes_topic("Altra cosa: cosa ha promesso Macron?", turns, corpus(), {"forum"})


@pytest.mark.parametrize(
    ("joined", "alone", "away"),
    [
        (0.869, 0.844, False),  # its words draw the last question to the sentence
        (0.851, 0.851, False),  # they neither draw nor push
        (0.917, 0.929, True),  # they ask what the sentence does not hold
    ],
)
def test_a_follow_up_pulling_away_from_its_best_sentence(
    joined: float, alone: float, away: bool
) -> None:
    """The floor is on the gain of the last question's cosine once the follow-up joins it."""
    assert pulled_away(joined, alone, -0.01) is away
    assert not pulled_away(joined, alone, -1.0)


def test_a_quote_not_naming_whom_a_follow_up_newly_asks_about_goes() -> None:
    """ "E quanti ne manderebbe Macron?" after the Peskov quote: the follow-up asks about
    Macron, whom the conversation has not named; the quote does not name him, so it does not
    answer again (as for a fragment), while a sentence naming him stays."""
    c = corpus()
    turns = history(f"{QUOTE} [1]")
    whole = chunk("forum", 0, len(FORUM))

    def scored(sentence: str) -> ScoredSentence:
        start = FORUM.index(sentence)
        return ScoredSentence(whole, start, start + len(sentence), 0.5, 1.0)

    quote = scored(QUOTE)
    other = scored("Ha aggiunto che nessuna truppa straniera sarà accettata sul terreno.")
    found = Leads({}, frozenset(), frozenset({("forum", quote.start)}))
    names = unsaid_names("E quanti ne manderebbe Macron?", turns, c)
    assert names == [["macron"]]
    assert naming_the_new([quote, other], names, found, "") == [other]
    # Peskov is the conversation's own: no new name, the quote stays
    assert unsaid_names("E Peskov quanti ne ha citati?", turns, c) == []
    assert naming_the_new([quote, other], [], found, "") == [quote, other]
    # a question saying it is on something else is not answered by the last quote
    assert unsaid([quote, other], found, "") == [other]
    # a name the collection does not hold ("Starmer") is not asked of the quotes
    assert unsaid_names("E quanti ne manderebbe Starmer?", turns, c) == []
    # only a follow-up setting the name against the last subject ("E…", "And…") is asked it
    assert opens_with_and("E quanti ne manderebbe Macron?")
    assert opens_with_and("And how many would Macron send?")
    assert not opens_with_and("Secondo lui, quali contingenti escludono le garanzie per Kiev?")


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("Da quando hanno cominciato a regalarli?", True),
        ("Vuole venderlo?", True),
        ("Chi ha incontrato Carlo?", False),
        ("Chi ha parlato all'agenzia RIA a Vladivostok?", False),
    ],
)
def test_an_object_pronoun_on_a_verb_points_back(question: str, elliptical: bool) -> None:
    assert is_elliptical(question) is elliptical


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("Chi era sua moglie?", True),
        ("Quanto è durata la sua esibizione?", True),
        ("What was the name of his spacecraft?", True),
        ("Per quanto tempo vi rimase?", True),  # "vi": there, the place the answer named
        ("Quanti musei vi sono a Parigi?", False),  # "vi sono": there are
        ("Quanti abitanti conta la città di Newcastle?", False),
    ],
)
def test_a_possessive_or_a_place_pronoun_points_back(question: str, elliptical: bool) -> None:
    """Its own words then say little of its topic: "tempo" and "rimase" are best matched in
    any article, yet the question asks how long the king of the last answer stayed there."""
    assert is_elliptical(question) is elliptical


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("E Macron?", True),
        ("And Zelensky?", True),
        ("What about Macron?", True),
        ("And what about Macron?", True),
        ("E a Napoli nel 1656?", True),
        ("And on the BBC?", True),
        ("Et à Paris ?", True),
        ("¿Y en París?", True),
        ("Und im Jahr 2015?", True),
        ("E quando?", False),  # asks for a time of its own
        ("E poi?", False),  # asks what came next
        ("And then?", False),
        ("E la più bassa?", False),  # a word of its own ("bassa") says what it asks
        ("E Macron era d'accordo?", False),
        ("E sulle truppe nordcoreane?", False),
        ("Macron?", False),  # no opener: a question of one name, not a turn in a talk
    ],
)
def test_a_fragment_only_names_what_the_conversation_turns_to(
    question: str, fragment: bool
) -> None:
    assert is_fragment(question) is fragment


def test_a_fragment_asks_what_the_last_real_question_asked() -> None:
    turns = [
        {"role": "user", "content": "Secondo Zelensky quante truppe potrebbero essere schierate?"},
        {"role": "assistant", "content": "Nell'ordine delle «migliaia». [1]"},
        {"role": "user", "content": "E Macron?"},
        {"role": "assistant", "content": "Non ha fornito dettagli. [1]"},
    ]
    assert asking_question("E Starmer?", turns) == turns[0]["content"]
    assert asking_question("E quando?", turns) == "E quando?"
    assert asking_question("E Macron?", []) == "E Macron?"


def test_a_fragment_drops_the_quote_that_answered_another_question() -> None:
    """ "E Macron?" after the Peskov quote: that quote answered the question about Peskov,
    so it goes unless it names Macron; another sentence may answer by the one before it,
    where the fragment's subject is named."""
    whole = chunk("forum", 0, len(FORUM))

    def scored(sentence: str, coverage: float, context: float) -> ScoredSentence:
        start = FORUM.index(sentence)
        return ScoredSentence(whole, start, start + len(sentence), coverage, 1.0, context=context)

    quote = scored(QUOTE, 0.5, 0.5)
    after = scored("Ha aggiunto che nessuna truppa straniera sarà accettata sul terreno.", 0.0, 0.4)
    found = Leads({}, frozenset(), frozenset({("forum", quote.start)}))
    assert for_fragment([quote, after], {"macron"}, found, "") == [
        dataclasses.replace(after, coverage=0.4)
    ]
    assert for_fragment([quote], {"peskov"}, found, "") == [quote]
    said = f"{QUOTE} [1]"  # the previous answer's text finds it too
    assert for_fragment([quote], {"macron"}, Leads({}, frozenset()), said) == []


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("In che anno è stata fondata?", True),  # "anno" asks for a kind of answer
        ("In quale città è nato?", True),
        ("Quanti anni aveva?", True),
        ("In quale città si è giocato il Super Bowl 50?", False),  # its own subject
        ("In che anno è stata fondata la Compagnia delle Indie?", False),
    ],
)
def test_the_words_asking_for_a_kind_of_answer_name_no_subject(
    question: str, elliptical: bool
) -> None:
    """ "In che anno è stata fondata?" names nothing it asks about: what was founded is the
    conversation's, so it is no change of topic however well "fondata" and "anno" match
    another article (the Engineering News-Record, then the East India Company's year)."""
    assert is_elliptical(question) is elliptical


def test_the_passages_that_answer_do_not_depend_on_the_sources_asked_for() -> None:
    """The best ANSWER_CHUNKS passages answer, a follow-up's those of the conversation's
    article among them, whether 4 sources were asked for (the chat) or 10 (the evaluation)."""
    chunks = [Chunk(f"doc{i % 3}", i, 0, 10, f"Frase {i}.") for i in range(10)]
    focus = frozenset({"doc1"})
    for k in (4, 6, 10):
        assert answer_chunks(chunks[:k], frozenset()) == chunks[:ANSWER_CHUNKS]
        assert answer_chunks(chunks[:k], focus) == [chunks[1]]  # not doc1's chunks 4 and 7
