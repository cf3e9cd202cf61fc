"""Pure answer logic: expected types, unknown names, coverage, picking and composing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering.extractive import (
    ALIGNED_ENOUGH,
    ALIGNED_FLOOR_SLACK,
    KIND_BONUS,
    SAID_SHARE,
    compose_answer,
    coverage,
    dense_subset,
    passage_words,
    pick_sentences,
    question_terms,
    respelled,
    score_sentences,
    unknown_names,
    unknown_spellings,
)
from rag.answering.quoting import doubted
from rag.answering.state import Query
from rag.retrieval.answer_types import (
    AGE,
    CALENDAR_YEAR,
    DATE,
    DURATION,
    MONEY,
    NUMBER,
    ORGANISATION,
    PERCENT,
    PLACE,
    TIME,
    expected_type,
    has_type,
)
from rag.retrieval.hybrid import conversation_queries, is_elliptical
from rag.retrieval.lexical import LexicalIndex, analyze, prefixes
from rag.retrieval.names import asked_names, new_names, place_names
from rag.retrieval.rerank import shipped_model
from rag.settings import load_settings
from vectorstore.documents import Chunk
from vectorstore.records import store_identity

BODY = (
    "Un titolo senza punto finale\nPeskov ha parlato a Vladivostok venerdì. "
    "Ventisei nazioni hanno promesso garanzie. Il vertice si è svolto a Parigi."
)


def chunk_of(body: str, start: int = 0) -> Chunk:
    return Chunk("d", 0, start, len(body), body[start:], title="T", date="2025-09-05", source="s")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Quando ha parlato Peskov?", TIME),
        ("In che anno si sono tenuti i colloqui?", CALENDAR_YEAR),
        ("Quando si sono tenuti i colloqui?", TIME),
        ("In what year did Lenin publish it?", CALENDAR_YEAR),
        ("In welchem Jahr wurde er geboren?", CALENDAR_YEAR),
        ("Quante nazioni hanno promesso garanzie?", NUMBER),
        ("How many nations?", NUMBER),
        ("In quale città si sono visti?", PLACE),
        ("Quale Paese guiderà la forza?", PLACE),
        ("Which country leads?", PLACE),
        ("Chi è il portavoce?", None),
        ("Qual è lo stato dei negoziati?", None),
        ("Che percentuale degli elettori ha votato sì?", PERCENT),
        ("What percentage of voters said yes?", PERCENT),
        # the asking words of the other languages questions come in
        ("Quand la Russie a-t-elle lancé son offensive ?", TIME),
        ("¿En qué año se fundó Harvard?", CALENDAR_YEAR),
        ("Wann starb Dschingis Khan?", TIME),
        ("Combien de personnes la peste a-t-elle tuées à Venise ?", NUMBER),
        ("¿Cuántas especies se han validado?", NUMBER),
        ("Wie viele Kunden hatte Sky?", NUMBER),
        ("¿En qué fecha se reunirán?", DATE),
        ("Dans quelle ville est né Luther ?", PLACE),
        ("In welcher Stadt wurde Luther geboren?", PLACE),
        ("Qui est le porte-parole du Kremlin ?", None),
        # a count of a kind: an age, a duration, a sum
        ("Quanti anni ha?", AGE),
        ("How old was he at the time?", AGE),
        ("¿Qué edad tenía cuando fue elegido?", AGE),
        ("Da quanti anni va avanti la guerra?", NUMBER),  # how many years: any count
        ("Quanto è durata la telefonata?", DURATION),
        ("Per quanto tempo ha regnato?", DURATION),
        ("How long did the call last?", DURATION),
        ("How long is the river?", NUMBER),  # a length, not a duration
        ("Wie lange dauerte der Krieg?", DURATION),
        ("Quanto costa l'abbonamento?", MONEY),
        ("How much does the Silver box cost?", MONEY),
        ("¿Cuánto cuesta al mes la suscripción?", MONEY),
        ("Quanto pesa il satellite?", NUMBER),
        # an organisation whose answer is a name
        ("E quale azienda ha fondato poi?", ORGANISATION),
        ("For which team did he play?", ORGANISATION),
        ("Quale gruppo si è ribellato?", None),  # a group is often no name
    ],
)
def test_expected_type(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


def test_an_opening_inverted_mark_does_not_make_the_asking_word_a_name() -> None:
    assert [n for n, _ in asked_names("¿Quién fue el primer presidente de Harvard?")] == ["Harvard"]
    assert [n for n, _ in asked_names("¡Dime quién ganó!")] == []


def test_a_year_asked_for_needs_a_year() -> None:
    """ "In che anno…?" is answered by a year (or its decade or century), where "quando…?"
    takes any word of time: a sentence with "giorno" or "dopo" and no year answers no year
    ("E in che anno era nato?" after a sentence naming the man)."""
    for sentence in (
        "Il trattato fu firmato nel 1648.",
        "Odoacre depose l'ultimo imperatore nel 476.",
        "La città crebbe nel XIV secolo.",
        "Il genere nacque negli anni' 80.",
        "Le autorità non hanno comunicato la data.",  # the article says it is not given
    ):
        assert has_type(sentence, CALENDAR_YEAR), sentence
    no_year = "Il Presidente stabilisce l'ordine del giorno dei lavori dopo la riunione."
    assert has_type(no_year, TIME)
    assert not has_type(no_year, CALENDAR_YEAR)
    assert not has_type("Hanno promesso 26 nazioni.", CALENDAR_YEAR)


def test_a_count_of_a_kind_needs_its_unit() -> None:
    """An age, a duration or a sum is a number with what it counts: any number in the
    evidence does not answer "quanto è durata la telefonata?"."""
    assert has_type("Peskov, 57 anni, ha parlato.", AGE)
    assert has_type("Lo ha fatto all'età di diciassette anni.", AGE)
    assert has_type("Il quarantenne ha parlato.", AGE)
    assert not has_type("Ventisei nazioni hanno promesso garanzie.", AGE)
    assert not has_type("Per due millenni la città crebbe.", AGE)  # no "-enne"
    for sentence in (
        "La telefonata è durata tre ore.",
        "Ha parlato per 45 minuti.",
        "Regnò per un anno.",
        "Dal 1979 la rivista esce ogni mese.",
        "Apollo correva dal 1961 al 1972.",
        "Mancavano 3:08 alla fine.",
    ):
        assert has_type(sentence, DURATION), sentence
    assert not has_type("Ventisei nazioni hanno promesso garanzie.", DURATION)
    assert not has_type("Nel 2022 si sono visti a Istanbul.", DURATION)
    assert not has_type("Lavorano da diverse settimane al piano.", DURATION)  # no figure
    assert has_type("Il box costa £10 al mese.", MONEY)
    assert has_type("Un costo di 8 miliardi di dollari.", MONEY)
    assert not has_type("Sky ha 10 milioni di clienti.", MONEY)
    assert not has_type("Una franchigia della NFL con 10 titoli.", MONEY)
    # the figure not given still answers, as for any number
    assert has_type("Non hanno precisato quanto sia durata.", DURATION)


def test_an_organisation_asked_for_needs_a_name_the_question_lacks() -> None:
    known = set(analyze("Quale azienda ha fondato Linde?"))
    assert has_type("Linde fondò la Linde AG e poi la Messer.", ORGANISATION, known)
    assert not has_type("Poi Linde fondò un'altra azienda.", ORGANISATION, known)


def test_has_type() -> None:
    assert has_type("Nel 2022 a Istanbul.", TIME) and has_type("Lo ha detto venerdì.", TIME)
    assert not has_type("Peskov ha parlato.", TIME)
    assert has_type("Ventisei nazioni.", NUMBER) and has_type("26 nazioni.", NUMBER)
    assert not has_type("Molte nazioni.", NUMBER) and has_type("Qualsiasi cosa.", None)
    assert has_type("Sono morti in trecento.", NUMBER)
    assert not has_type("I docenti hanno parlato.", NUMBER)  # "docenti" holds no "cento"


def test_an_ordinal_says_how_many_only_as_a_fraction_or_of_the_counted_noun() -> None:
    war = "La guerra, ora al suo terzo anno, non accenna a finire."
    assert not has_type(war, NUMBER, set(analyze("Quante vittime ha causato la guerra?")))
    assert has_type(war, NUMBER, set(analyze("Da quanti anni va avanti la guerra?")))
    for fraction in ("Un terzo della popolazione.", "Ne restano due terzi.", "Sette ottavi."):
        assert has_type(fraction, NUMBER), fraction


def test_a_sentence_saying_the_figure_was_not_given_answers_a_typed_question() -> None:
    """ "Quanto darà ciascun Paese?" is answered, in news, by "non ha fornito dettagli"."""
    for sentence in (
        "Tuttavia, non ha fornito dettagli sui contributi di ciascun Paese.",
        "Il ministero non ha ancora precisato la data.",
        "Le autorità non hanno comunicato il numero delle vittime.",
        "The ministry did not disclose the figure.",
    ):
        assert has_type(sentence, NUMBER) and has_type(sentence, DATE), sentence
    assert not has_type("Il ministero ha fornito dettagli sui contributi.", NUMBER)
    assert not has_type("Non ci sono dettagli.", NUMBER)  # no one withheld anything


def test_a_place_question_needs_a_name_the_question_does_not_hold() -> None:
    known = set(analyze("In quale città cinese si sono visti Putin e Kim Jong-un?"))
    # The question's own people, with or without a first name, are not an answer.
    putin = "Mercoledì, il presidente Vladimir Putin ha ringraziato Kim Jong-un per il sostegno."
    assert new_names(putin, known) == [] and not has_type(putin, PLACE, known)
    assert new_names("I due leader si sono visti a Pechino.", known) == ["Pechino"]
    # "cinese" already names China: "in Cina" does not say which city.
    assert new_names("Si sono visti in Cina.", known) == []
    for adjective, place in (("italiana", "Italia"), ("americana", "America"), ("russa", "Russia")):
        assert new_names(f"In {place}, a Boston.", set(analyze(adjective))) == ["Boston"]
    assert new_names("In Cina.", set(analyze("cinema"))) == ["Cina"]  # not an adjective of it
    # A name introduced as another kind of place is not the kind asked for.
    kursk = "Ha parlato della liberazione della regione di Kursk durante un incontro in Cina."
    assert new_names(kursk, known) == ["Kursk"] and not has_type(kursk, PLACE, known)
    assert place_names("Si sono visti nella città di Tianjin.", known) == ["Tianjin"]
    assert place_names("Il Paese di Andorra.", set(analyze("Quale paese?"))) == ["Andorra"]
    # An opening capital says nothing; a run of capitals is one name.
    assert new_names("Tuttavia, il centro è Nuova Zelanda.", set()) == ["Nuova Zelanda"]
    assert new_names("Mercoledì il vertice.", set()) == []
    # "Non ha fornito dettagli" answers how many or when, not where.
    withheld = "Tuttavia, non ha fornito dettagli sui contributi di ciascun Paese."
    assert not has_type(withheld, PLACE, set(analyze("Quale Paese guiderà la forza?")))
    assert has_type(withheld, NUMBER)


def test_unknown_names_ignore_the_first_word_and_known_names() -> None:
    index = LexicalIndex([BODY])
    assert unknown_names(unknown_spellings("Cosa ha detto Giorgia Meloni a Parigi?", index)) == [
        "Giorgia",
        "Meloni",
    ]
    assert unknown_names(unknown_spellings("Peskov dove ha parlato?", index)) == []
    assert unknown_names(unknown_spellings("Dove ha parlato Peskov?", index)) == []


def test_a_name_the_passages_spell_otherwise_is_no_unknown_name() -> None:
    """ "Zelenski" is how many write "Zelensky": a word of the candidate passages that spells
    it alike (difflib's ratio 0.8) makes it known; "Meloni" is near no word there."""
    index = LexicalIndex([BODY])
    passages = ["Zelensky ha parlato a Parigi di milioni di soldati."]
    words = passage_words(passages)
    assert unknown_names(unknown_spellings("Cosa ha detto Zelenski?", index)) == ["Zelenski"]
    assert unknown_names(unknown_spellings("Cosa ha detto Zelenski?", index, words)) == []
    assert unknown_names(unknown_spellings("Cosa ha detto Meloni?", index, words)) == ["Meloni"]


def test_a_name_spelled_otherwise_weighs_as_the_passages_write_it() -> None:
    index = LexicalIndex([BODY, "Zelensky ha parlato a Parigi."])
    question = "Cosa ha detto Zelenski a Meloni?"
    terms = {t: index.idf(t) for t in analyze(question)}
    passages = ["Zelensky ha parlato a Parigi."]
    got = respelled(terms, unknown_spellings(question, index, passage_words(passages)), index)
    (zelensky,) = analyze("Zelensky")
    assert zelensky in got and got[zelensky] == index.idf(zelensky)
    assert not set(analyze("Zelenski")) & set(got)  # read as the articles write it
    assert set(analyze("Meloni")) <= set(got)  # spelled alike by nothing: kept as asked
    assert respelled(terms, unknown_spellings(question, index, set()), index) == terms
    # Of two words spelled alike, the nearer: "Zelenskiy" is "Zelensky", not "Zelenskij".
    index = LexicalIndex(["Zelenskij e Zelensky."])
    terms = {t: index.idf(t) for t in analyze("Chi è Zelenskiy?")}
    words = passage_words(["Zelenskij e Zelensky."])
    got = respelled(terms, unknown_spellings("Chi è Zelenskiy?", index, words), index)
    assert zelensky in got and not set(analyze("Zelenskij")) & set(got)


def test_coverage_weights_and_history() -> None:
    index = LexicalIndex([BODY, "altro testo sul vertice"])
    terms = question_terms(
        "E dove ha parlato?", [{"role": "user", "content": "Cosa ha detto Peskov?"}], index
    )
    assert terms["parl"] > terms["peskov"] > 0  # history terms count less
    assert coverage(terms, {"parl", "peskov"}) == pytest.approx(1.0)
    assert coverage(terms, set()) == 0.0 and coverage({}, {"x"}) == 0.0


def test_pick_abstains_below_threshold_and_skips_headings() -> None:
    index = LexicalIndex([BODY])
    terms = question_terms("Dove ha parlato Peskov?", [], index)
    scored = score_sentences(terms, [chunk_of(BODY)])
    assert all(BODY[s.start : s.end] != "Un titolo senza punto finale" for s in scored)
    assert BODY[scored[0].start : scored[0].end].startswith("Peskov ha parlato")
    assert pick_sentences(scored, 2, abstain_below=0.99)[0] is scored[0]
    nothing = question_terms("Ricetta della carbonara?", [], index)
    assert pick_sentences(score_sentences(nothing, [chunk_of(BODY)]), 2, 0.1) == []


def test_an_answer_never_quotes_the_same_words_twice() -> None:
    """SQuAD-it's articles repeat whole sentences ("Alan Dershowitz e Lawrence Lessig.
    Alan Dershowitz e Lawrence Lessig."): both score alike, but the answer quotes one."""
    said = "Il vertice si è svolto a Parigi."
    body = f"Ventisei nazioni hanno promesso garanzie. {said} {said}"
    terms = {"vertic": 1.0, "parig": 1.0, "nazion": 0.2}
    scored = score_sentences(terms, [chunk_of(body)])
    assert [s.text for s in scored[:2]] == [said, said] and scored[1].start > scored[0].start
    picked = pick_sentences(scored, 2, 0.1)
    assert [s.text for s in picked] == [said]  # the third is too far below for a runner-up
    assert [s.text for s in pick_sentences(scored, 3, 0.0)] == [said]
    close = [scored[0], scored[1], replace(scored[2], score=scored[0].score)]
    assert [s.text for s in pick_sentences(close, 2, 0.05)] == [said, close[2].text]


def test_compose_answer_cuts_quotes_from_the_body() -> None:
    index = LexicalIndex([BODY])
    chunk = chunk_of(BODY, start=13)
    scored = score_sentences(question_terms("Quante nazioni?", [], index), [chunk], NUMBER)
    answer = compose_answer("Quante nazioni?", scored[:1], [(chunk, 0.5)], {"d": BODY}, 4)
    c = answer.citations[0]
    assert BODY[c.start : c.end] == c.quote == "Ventisei nazioni hanno promesso garanzie."
    assert answer.answer == f"{c.quote} [1]" and not answer.abstained
    assert answer.sources[0].text == BODY[13:] and answer.sources[0].start == 13
    empty = compose_answer("What?", [], [(chunk, 0.5)], {"d": BODY}, 4)
    assert empty.abstained and empty.answer.startswith("I could not find")


def test_exact_date_questions_need_a_day_and_a_month() -> None:
    assert expected_type("In che data si è svolto il vertice?") == DATE
    assert has_type("Il vertice si è svolto il 4 settembre a Parigi.", DATE)
    assert not has_type("Il vertice si è svolto ieri a Parigi.", DATE)
    assert has_type("Il vertice si è svolto ieri a Parigi.", TIME)


def test_a_year_is_not_a_quantity() -> None:
    assert not has_type("La guerra è iniziata nel febbraio 2022.", NUMBER)
    assert has_type("Hanno promesso 26 nazioni nel 2025.", NUMBER)
    assert not has_type("Il 1 ottobre 1968 le città si unirono.", NUMBER)  # a day, a date
    assert has_type("Il 1 ottobre 1968 si unirono 3 città.", NUMBER)


def test_a_share_needs_a_percentage() -> None:
    assert has_type("Il 40% della popolazione morì.", PERCENT)
    assert has_type("Ne morì il quaranta per cento.", PERCENT)
    assert not has_type("Nel 1967 gli elettori approvarono il piano con 54.493 voti.", PERCENT)


def test_dense_subset_keeps_the_best_lexical_positions_in_order() -> None:
    assert dense_subset([0.1, 0.5, 0.3, 0.9], 2) == [1, 3]
    assert dense_subset([0.1, 0.5], 5) == [0, 1] and dense_subset([0.2, 0.1], None) == [0, 1]


def test_only_the_best_lexical_candidates_are_embedded() -> None:
    """Each compared sentence costs an embedding: with `dense_only`, the sentences the
    question's own words rank lowest keep their lexical score and cosine 0."""
    asked: list[str] = []

    def cosines(texts: list[str] | tuple[str, ...]) -> list[float]:
        asked.extend(texts)
        return [0.9 if "Parigi" in t else 0.8 for t in texts]

    terms = {"vertic": 1.0, "parig": 1.0, "peskov": 0.5}
    scored = score_sentences(terms, [chunk_of(BODY)], similarity=cosines, dense_only=2)
    assert sorted(asked) == [
        "Il vertice si è svolto a Parigi.",
        "Peskov ha parlato a Vladivostok venerdì.",
    ]
    by_text = {BODY[s.start : s.end]: s for s in scored}
    assert by_text["Ventisei nazioni hanno promesso garanzie."].cosine == 0.0
    assert BODY[scored[0].start : scored[0].end] == "Il vertice si è svolto a Parigi."
    asked.clear()
    score_sentences(terms, [chunk_of(BODY)], similarity=cosines)
    assert len(asked) == 3  # all of them by default


def test_pick_takes_the_best_sentence_that_holds_enough_of_the_question() -> None:
    terms = {"vertic": 1.0, "parig": 1.0, "nazion": 0.5}
    scored = score_sentences(terms, [chunk_of(BODY)])
    assert BODY[scored[0].start : scored[0].end] == "Il vertice si è svolto a Parigi."
    # Demote the best one below the threshold: the next eligible sentence answers.
    weak = [replace(scored[0], coverage=0.05), *scored[1:]]
    picked = pick_sentences(weak, 1, 0.1)
    assert [BODY[p.start : p.end] for p in picked] == ["Ventisei nazioni hanno promesso garanzie."]
    assert pick_sentences(weak[:1], 1, 0.1) == []


def test_a_foreign_question_answers_under_the_floor_only_by_translating_its_words() -> None:
    """In another language the cosine floor decides; a sentence translating most of the
    question's words (its `aligned` share) may answer a little under it, no lower."""
    scored = score_sentences({"vertic": 1.0}, [chunk_of(BODY)])
    best = replace(scored[0], coverage=0.0, cosine=0.83 - ALIGNED_FLOOR_SLACK / 2)
    assert pick_sentences([best], 1, 0.1, dense_below=0.83) == []
    translated = replace(best, aligned=ALIGNED_ENOUGH)
    assert pick_sentences([translated], 1, 0.1, dense_below=0.83) == [translated]
    too_far = replace(translated, cosine=0.83 - 2 * ALIGNED_FLOOR_SLACK)
    assert pick_sentences([too_far], 1, 0.1, dense_below=0.83) == []
    half = replace(best, aligned=ALIGNED_ENOUGH / 2)
    assert pick_sentences([half], 1, 0.1, dense_below=0.83) == []
    # an Italian question (no floor) still answers by its words' coverage alone
    assert pick_sentences([translated], 1, 0.1) == []


def test_a_sentence_scores_with_the_words_of_the_one_before_but_answers_by_its_own() -> None:
    """ "In entrambi i casi…" answers what the sentence before names: its score counts those
    words, but its coverage (what makes it eligible) is its own."""
    body = (
        "Nel 1877 Pictet e Cailletet liquefecero l'ossigeno. "
        "In entrambi i casi furono prodotte solo poche gocce di liquido. "
        "Altri scienziati studiarono le gocce di pioggia a lungo."
    )
    terms = {"pictet": 2.0, "cailletet": 2.0, "gocc": 1.0}
    scored = {body[s.start : s.end]: s for s in score_sentences(terms, [chunk_of(body)])}
    after = scored["In entrambi i casi furono prodotte solo poche gocce di liquido."]
    other = scored["Altri scienziati studiarono le gocce di pioggia a lungo."]
    assert after.score > other.score  # the names before it count for it, not for the third
    assert after.coverage == pytest.approx(other.coverage) == pytest.approx(0.2)
    passage = chunk_of(body, body.index("In entrambi"))  # opening a passage: none before
    first = next(s for s in score_sentences(terms, [passage]) if s.start == after.start)
    assert first.score < after.score


def test_a_sentence_the_previous_answer_said_keeps_a_share_of_its_score() -> None:
    """Quoted before, a sentence competes at SAID_SHARE of its score: it loses to an equal new
    one, but still answers when it holds what is asked ("In che città?" after it)."""
    terms = {"peskov": 1.0, "vladivostok": 1.0, "nazion": 0.5}
    said = "Peskov ha parlato a Vladivostok venerdì. [1]"
    fresh = {BODY[s.start : s.end]: s.score for s in score_sentences(terms, [chunk_of(BODY)])}
    again = {
        BODY[s.start : s.end]: s.score for s in score_sentences(terms, [chunk_of(BODY)], said=said)
    }
    quoted = "Peskov ha parlato a Vladivostok venerdì."
    assert again[quoted] == pytest.approx(SAID_SHARE * fresh[quoted])
    assert all(again[t] == fresh[t] for t in fresh if t != quoted)


def test_a_sentence_holding_words_of_the_kind_asked_for_gains_a_bonus() -> None:
    """ "Dove…?" asks for a place: a sentence naming one the question does not gains
    KIND_BONUS; one naming no place, or only the question's own, changes nothing."""
    terms = {"vertic": 1.0, "svolt": 1.0}
    plain = {BODY[s.start : s.end]: s.score for s in score_sentences(terms, [chunk_of(BODY)])}
    typed = {
        BODY[s.start : s.end]: s.score
        for s in score_sentences(terms, [chunk_of(BODY)], asked=PLACE)
    }
    assert typed["Il vertice si è svolto a Parigi."] == pytest.approx(
        plain["Il vertice si è svolto a Parigi."] + KIND_BONUS
    )
    assert typed["Ventisei nazioni hanno promesso garanzie."] == pytest.approx(
        plain["Ventisei nazioni hanno promesso garanzie."]
    )
    own = {**terms, "parig": 1.0}  # Parigi is the question's own: it does not answer
    again = {s.start: s.score for s in score_sentences(own, [chunk_of(BODY)])}
    with_kind = {s.start: s.score for s in score_sentences(own, [chunk_of(BODY)], asked=PLACE)}
    parigi, vladivostok = BODY.index("Il vertice"), BODY.index("Peskov")
    assert with_kind[parigi] == pytest.approx(again[parigi])
    assert with_kind[vladivostok] == pytest.approx(again[vladivostok] + KIND_BONUS)


def test_sentence_bm25_blends_into_the_score() -> None:
    index = LexicalIndex(["Peskov parla.", "Ventisei nazioni.", "Vertice a Parigi."])
    terms = {"vertic": 1.0, "parig": 1.0}
    plain = score_sentences(terms, [chunk_of(BODY)])
    blended = score_sentences(terms, [chunk_of(BODY)], sentence_index=index)
    assert BODY[blended[0].start : blended[0].end] == "Il vertice si è svolto a Parigi."
    assert [s.coverage for s in plain] == [s.coverage for s in blended]


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("E lui cosa ha detto?", True),
        ("Dove ha fatto queste dichiarazioni?", True),
        ("Perché?", True),
        ("Chi è il portavoce del Cremlino?", False),
        ("Quante nazioni hanno promesso garanzie di sicurezza all'Ucraina?", False),
        ("Quante nazioni hanno promesso le garanzie agli alleati?", False),
    ],
)
def test_is_elliptical(question: str, elliptical: bool) -> None:
    assert is_elliptical(question) is elliptical


def test_conversation_queries_weigh_the_previous_turns() -> None:
    history = [
        {"role": "user", "content": "Chi è il portavoce del Cremlino?"},
        {"role": "assistant", "content": "Dmitry Peskov ha detto… [1]"},
    ]
    plain = conversation_queries("Chi è il portavoce del Cremlino?", [])
    assert [q.weight for q in plain] == [1.0]
    follow = conversation_queries("E lui cosa ha detto?", history)
    assert [q.text for q in follow][1:] == [
        "Chi è il portavoce del Cremlino? E lui cosa ha detto?",
        "Dmitry Peskov ha detto… E lui cosa ha detto?",
    ]
    assert follow[0].weight == 1.0 and follow[1].weight > follow[2].weight > 0
    standalone = conversation_queries("Quante nazioni hanno promesso garanzie?", history)
    assert standalone[1].weight < follow[1].weight  # a self-contained question leans less


def test_the_asking_words_open_the_question() -> None:
    assert expected_type("Da quanti anni va avanti la guerra?") == NUMBER
    # "quando" in a later clause is not what is asked.
    assert expected_type("Quale leader ha detto che scatteranno quando finirà la guerra?") is None
    # The asking words that come first decide: "quando" here opens a clause of the age asked.
    assert expected_type("Quanti anni aveva quando ha ottenuto la parte?") == AGE
    assert expected_type("Quando aveva quanti anni?") == TIME
    assert expected_type("How old was he when he won?") == AGE


def test_prefixes_join_forms_that_stems_keep_apart() -> None:
    assert prefixes("contribuirà") == prefixes("contributi") == ["contr"]
    assert analyze("contribuirà") != analyze("contributi")
    assert prefixes("Nel 2022 il Cremlino") == ["2022", "creml"]


def test_the_evidence_floor_doubts_a_question_asked_alone_under_it() -> None:
    """A question asked alone whose best passage the re-ranker scores under the floor is
    doubted; a follow-up is not (its words say little alone), nor with the re-ranker off or
    the floor at 0; by default the floor is the one fitted with the shipped weights, for a
    store of the model they were fitted with and with dense retrieval on (without e5's
    cosines the re-ranker's scores are others); a floor set in the settings applies to any
    store."""
    chunk = Chunk(doc_id="d", index=0, start=0, end=9, text="Un testo.", title="t")
    alone = Query("Chi ha vinto?")
    follow_up = Query("E poi?", [{"role": "user", "content": "Chi?"}])
    shipped = shipped_model()
    floor, e5 = shipped.abstain_below, store_identity(shipped.model)
    settings = load_settings()
    assert settings.evidence_abstain_below is None and 0.5 < floor < 1
    assert e5 == store_identity(settings.embedding_model)  # fitted with the default model
    assert doubted(alone, [(chunk, floor - 0.01), (chunk, floor / 2)], settings, e5)
    assert not doubted(alone, [(chunk, floor / 2), (chunk, floor + 0.01)], settings, e5)
    assert not doubted(follow_up, [(chunk, 0.1)], settings, e5)
    assert not doubted(alone, [], settings, e5)
    assert not doubted(alone, [(chunk, 0.1)], load_settings(rerank=False), e5)
    assert not doubted(alone, [(chunk, 0.1)], load_settings(evidence_abstain_below=0.0), e5)
    assert not doubted(alone, [(chunk, 0.1)], load_settings(dense_weight=0.0), e5)
    minilm = store_identity("all-MiniLM-L6-v2")
    assert not doubted(alone, [(chunk, 0.0001)], settings, minilm)
    set_floor = load_settings(evidence_abstain_below=0.98)
    assert doubted(alone, [(chunk, 0.97)], set_floor, e5)
    assert doubted(alone, [(chunk, 0.97)], set_floor, minilm)
