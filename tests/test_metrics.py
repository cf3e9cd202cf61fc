"""Hand-worked cases for eval.metrics; expected numbers are computed by hand, not by the code."""

from __future__ import annotations

import pytest

from eval.metrics import (
    abstention_scores,
    answer_tokens,
    citation_precision,
    contains_answer,
    find_spans,
    first_hit_rank,
    hit_at_k,
    mean,
    mean_reciprocal_rank,
    normalize_answer,
    normalize_ws,
    percentile,
    spans_overlap,
    token_f1,
)

ABSTAIN = "Non ho trovato la risposta negli articoli."


# --- normalize_answer / answer_tokens -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("Perché", "perche"),
        ("Città", "citta"),
        ("È così", "e cosi"),
        ("l’Ucraina", "ucraina"),
        ("l'Ucraina", "ucraina"),
        ("L`Ucraina", "ucraina"),
        ("lʼUcraina", "ucraina"),
        ("dell’Ucraina", "dell ucraina"),
        ("un’ottima idea", "ottima idea"),
        ("«Il Presidente»", "presidente"),
        ("“La pace”, disse.", "pace disse"),
        ('"Lo Stato"', "stato"),
        ("Roma–Milano — oggi…", "roma milano oggi"),
        ("Gli USA e le sanzioni", "usa e sanzioni"),
        ("I ministri, uno a uno", "ministri a"),  # "uno" is dropped even as a numeral
        ("  Mario\t\nDraghi  ", "mario draghi"),
        ("1.000 euro", "1000 euro"),
        ("ﬁnanza", "finanza"),  # NFKC folds the "fi" ligature
        ("Kyiv\u00a0oggi", "kyiv oggi"),  # non-breaking space
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalize_answer_keeps_non_article_short_words() -> None:
    # "e" (and) and "di" are not articles; only whole-token articles disappear.
    assert normalize_answer("Il gatto e il cane di Lia") == "gatto e cane di lia"


def test_normalize_answer_article_only_inside_words_is_kept() -> None:
    assert normalize_answer("Italia Lione Ungheria") == "italia lione ungheria"


def test_answer_tokens_splits_normalized_text() -> None:
    assert answer_tokens("L’ex premier, Mario Draghi!") == ["ex", "premier", "mario", "draghi"]
    assert answer_tokens("") == []
    assert answer_tokens("il la gli") == []


# --- contains_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "golds"),
    [
        ("Le truppe dell’Ucraina avanzano.", ["Ucraina"]),
        ("l'Ucraina", ["Ucraina"]),
        ("Il motivo è perché piove", ["perche"]),
        ("Si è riunito a Città del Messico", ["citta del messico"]),
        ("Ha parlato «Dmitrij Peskov».", ["Peskov"]),
        ("Risposta: 42", ["nessuna", "42"]),
    ],
)
def test_contains_answer_matches(answer: str, golds: list[str]) -> None:
    assert contains_answer(answer, golds) is True


@pytest.mark.parametrize(
    ("answer", "golds"),
    [
        ("Ha parlato Peskov", ["Pesko"]),  # substring, but not at a token boundary
        ("Ha parlato Pesko", ["Peskov"]),
        ("Ucrainas", ["Ucraina"]),
        ("", ["Ucraina"]),
        ("Ucraina", []),
        ("Ucraina", ["", "   ", "il"]),  # golds that normalize to nothing are ignored
        ("il", ["la"]),  # both sides normalize to empty
        (ABSTAIN, ["Ucraina"]),
    ],
)
def test_contains_answer_rejects(answer: str, golds: list[str]) -> None:
    assert contains_answer(answer, golds) is False


# --- token_f1 -------------------------------------------------------------------------------


def test_token_f1_exact_match_after_normalization() -> None:
    assert token_f1("l’Ucraina", ["Ucraina"]) == 1.0
    assert token_f1("La Città di Roma", ["citta di roma"]) == 1.0


def test_token_f1_partial_overlap_worked_by_hand() -> None:
    # pred: [mario, draghi, ex, premier] (4), ref: [mario, draghi] (2), overlap 2
    # P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("Mario Draghi, ex premier", ["Mario Draghi"]) == pytest.approx(2 / 3)


def test_token_f1_counts_duplicate_tokens_once_per_occurrence() -> None:
    # pred [roma, roma, roma], ref [roma]: overlap 1, P = 1/3, R = 1, F1 = 0.5
    assert token_f1("Roma Roma Roma", ["Roma"]) == pytest.approx(0.5)


def test_token_f1_takes_max_over_references() -> None:
    # vs "Draghi": P = 1/2, R = 1 -> 2/3; vs "Mario Draghi": 1.0
    assert token_f1("Mario Draghi", ["Draghi", "Mario Draghi", "Conte"]) == 1.0
    assert token_f1("Mario Draghi", ["Draghi", "Conte"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("prediction", "references", "expected"),
    [
        ("", [""], 1.0),
        ("il", ["la"], 1.0),  # both empty after article removal
        ("", ["Ucraina"], 0.0),
        ("Ucraina", [""], 0.0),
        ("Ucraina", [], 0.0),
        ("", [], 0.0),
        ("Kiev", ["Mosca"], 0.0),
        (ABSTAIN, ["Ucraina"], 0.0),
    ],
)
def test_token_f1_edge_cases(prediction: str, references: list[str], expected: float) -> None:
    assert token_f1(prediction, references) == expected


# --- normalize_ws / first_hit_rank ----------------------------------------------------------


def test_normalize_ws_only_touches_whitespace() -> None:
    assert normalize_ws("  a\t\tb\n\nc  ") == "a b c"
    assert normalize_ws("L’Ucraina, «oggi»") == "L’Ucraina, «oggi»"
    assert normalize_ws("") == ""


def test_first_hit_rank_finds_first_matching_chunk() -> None:
    chunks = ["niente qui", "Il Cremlino ha\nrisposto  oggi.", "ha risposto oggi di nuovo"]
    assert first_hit_rank(chunks, ["ha risposto oggi"]) == 2


def test_first_hit_rank_any_evidence_counts() -> None:
    chunks = ["alfa", "beta", "gamma"]
    assert first_hit_rank(chunks, ["gamma", "beta"]) == 2


def test_first_hit_rank_normalizes_evidence_whitespace_too() -> None:
    assert first_hit_rank(["a b c"], ["b\n  c"]) == 1


def test_first_hit_rank_is_case_sensitive() -> None:
    # Only whitespace is normalized; evidence is meant to be copied verbatim.
    assert first_hit_rank(["Il Cremlino"], ["il cremlino"]) is None


@pytest.mark.parametrize(
    ("chunks", "evidence"),
    [
        (["alfa", "beta"], ["gamma"]),
        (["alfa", "beta"], []),
        (["alfa", "beta"], ["", "  \n"]),  # empty evidence would match everything
        ([], ["alfa"]),
    ],
)
def test_first_hit_rank_none(chunks: list[str], evidence: list[str]) -> None:
    assert first_hit_rank(chunks, evidence) is None


# --- hit_at_k / mean_reciprocal_rank --------------------------------------------------------


RANKS: list[int | None] = [1, 3, None, 2, 6]


@pytest.mark.parametrize(
    ("k", "expected"),
    [(1, 1 / 5), (2, 2 / 5), (3, 3 / 5), (5, 3 / 5), (6, 4 / 5), (100, 4 / 5)],
)
def test_hit_at_k(k: int, expected: float) -> None:
    assert hit_at_k(RANKS, k) == pytest.approx(expected)


def test_hit_at_k_edge_cases() -> None:
    assert hit_at_k([], 5) == 0.0
    assert hit_at_k([None, None], 5) == 0.0
    assert hit_at_k([1, 1], 1) == 1.0


def test_mean_reciprocal_rank_worked_by_hand() -> None:
    # (1 + 1/3 + 0 + 1/2 + 1/6) / 5 = 2 / 5
    assert mean_reciprocal_rank(RANKS) == pytest.approx(0.4)


def test_mean_reciprocal_rank_edge_cases() -> None:
    assert mean_reciprocal_rank([]) == 0.0
    assert mean_reciprocal_rank([None]) == 0.0
    assert mean_reciprocal_rank([1]) == 1.0
    assert mean_reciprocal_rank([4, None]) == pytest.approx(0.125)


@pytest.mark.parametrize("bad", [0, -1])
def test_rank_metrics_reject_non_positive_ranks(bad: int) -> None:
    with pytest.raises(ValueError):
        mean_reciprocal_rank([1, bad])
    with pytest.raises(ValueError):
        hit_at_k([bad], 3)


# --- spans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 5), (3, 8), True),  # partial overlap
        ((3, 8), (0, 5), True),  # symmetric
        ((0, 10), (2, 4), True),  # containment
        ((2, 4), (2, 4), True),  # identical
        ((0, 5), (5, 9), False),  # touching: [0,5) and [5,9) share no character
        ((5, 9), (0, 5), False),
        ((0, 3), (7, 9), False),  # disjoint
        ((4, 4), (0, 10), False),  # empty span has no characters
        ((4, 5), (4, 5), True),  # single shared character
    ],
)
def test_spans_overlap(a: tuple[int, int], b: tuple[int, int], expected: bool) -> None:
    assert spans_overlap(a, b) is expected


def test_find_spans_every_occurrence_in_quote_order() -> None:
    body = "Kiev dice no. Mosca dice sì. Kiev insiste."
    assert find_spans(body, ["Kiev", "Mosca"]) == [(0, 4), (29, 33), (14, 19)]


def test_find_spans_ignores_missing_and_empty_quotes() -> None:
    body = "La «tregua» regge."
    assert find_spans(body, ["", "assente", "«tregua»"]) == [(3, 11)]
    assert find_spans(body, []) == []
    assert find_spans("", ["x"]) == []


def test_find_spans_slices_back_to_the_quote() -> None:
    body = "Secondo l’agenzia, “la situazione è stabile”."
    quote = "“la situazione è stabile”"
    [(start, end)] = find_spans(body, [quote])
    assert body[start:end] == quote


def test_find_spans_reports_overlapping_occurrences() -> None:
    assert find_spans("aaa", ["aa"]) == [(0, 2), (1, 3)]


def test_citation_precision_partial_and_adjacent() -> None:
    gold = [(10, 20), (40, 50)]
    cited = [
        (15, 25),  # partially overlaps (10, 20) -> good
        (20, 30),  # touches (10, 20) at 20 only -> not overlapping
        (30, 40),  # touches (40, 50) at 40 only -> not overlapping
        (45, 46),  # inside (40, 50) -> good
    ]
    assert citation_precision(cited, gold) == pytest.approx(2 / 4)


def test_citation_precision_edge_cases() -> None:
    assert citation_precision([], [(0, 5)]) is None
    assert citation_precision([], []) is None
    assert citation_precision([(0, 5)], []) == 0.0
    assert citation_precision([(0, 5), (3, 5)], [(4, 10)]) == 1.0
    assert citation_precision([(0, 5), (3, 4)], [(4, 10)]) == 0.5  # (3, 4) only touches


def test_citation_precision_from_find_spans() -> None:
    body = "Il governo ha deciso. Poi ha rinviato tutto."
    gold = find_spans(body, ["ha deciso"])
    cited = find_spans(body, ["governo ha", "rinviato"])
    # "governo ha" (3, 13) overlaps "ha deciso" (11, 20); "rinviato" (29, 37) does not.
    assert gold == [(11, 20)]
    assert cited == [(3, 13), (29, 37)]
    assert citation_precision(cited, gold) == pytest.approx(0.5)


# --- abstention_scores ----------------------------------------------------------------------


def test_abstention_scores_confusion_table() -> None:
    # item:        1      2      3      4      5      6      7
    abstained = [True, True, False, True, False, False, False]
    answerable = [False, True, False, False, True, True, True]
    # positive = unanswerable (items 1, 3, 4)
    # TP = abstained & unanswerable = {1, 4} = 2
    # FP = abstained & answerable   = {2}    = 1
    # FN = answered  & unanswerable = {3}    = 1
    # answerable = {2, 5, 6, 7} = 4
    scores = abstention_scores(abstained, answerable)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["false_abstention_rate"] == pytest.approx(1 / 4)
    assert set(scores) == {"precision", "recall", "false_abstention_rate"}


def test_abstention_scores_never_abstaining() -> None:
    scores = abstention_scores([False, False, False], [True, False, True])
    assert scores == {"precision": None, "recall": 0.0, "false_abstention_rate": 0.0}


def test_abstention_scores_all_answerable() -> None:
    scores = abstention_scores([True, False], [True, True])
    assert scores == {"precision": 0.0, "recall": None, "false_abstention_rate": 0.5}


def test_abstention_scores_all_unanswerable_perfect() -> None:
    scores = abstention_scores([True, True], [False, False])
    assert scores == {"precision": 1.0, "recall": 1.0, "false_abstention_rate": None}


def test_abstention_scores_empty() -> None:
    assert abstention_scores([], []) == {
        "precision": None,
        "recall": None,
        "false_abstention_rate": None,
    }


def test_abstention_scores_length_mismatch() -> None:
    with pytest.raises(ValueError):
        abstention_scores([True], [True, False])


# --- percentile / mean ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        # numpy.percentile(..., method="linear"), index = p/100 * (n - 1), worked by hand
        ([1, 2, 3, 4], 50, 2.5),  # index 1.5
        ([1, 2, 3, 4], 95, 3.85),  # index 2.85 -> 3 + 0.85
        ([1, 2, 3, 4], 25, 1.75),  # index 0.75
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([4, 1, 3, 2], 50, 2.5),  # input order must not matter
        ([10, 20, 30, 40, 50], 90, 46.0),  # index 3.6 -> 40 + 0.6 * 10
        ([10, 20, 30, 40, 50], 50, 30.0),  # index 2 exactly
        ([0.2, 0.4, 1.5], 99, 1.478),  # index 1.98 -> 0.4 + 0.98 * 1.1
        ([7.0], 0, 7.0),
        ([7.0], 37.5, 7.0),
        ([7.0], 100, 7.0),
        ([3, 3, 3], 75, 3.0),
    ],
)
def test_percentile_matches_numpy_linear(values: list[float], p: float, expected: float) -> None:
    result = percentile(values, p)
    assert result is not None
    assert result == pytest.approx(expected)


def test_percentile_empty_is_none() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize("p", [-0.1, 100.1, float("nan"), float("inf")])
def test_percentile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], p)


def test_percentile_rejects_out_of_range_even_when_empty() -> None:
    with pytest.raises(ValueError):
        percentile([], 101)


def test_percentile_does_not_mutate_input() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 50)
    assert values == [3.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 2, 3, 4], 2.5), ([0.1] * 10, 0.1), ([-1.0, 1.0], 0.0), ([5], 5.0)],
)
def test_mean(values: list[float], expected: float) -> None:
    result = mean(values)
    assert result is not None
    assert result == pytest.approx(expected)


def test_mean_empty_is_none() -> None:
    assert mean([]) is None


def test_mean_is_exact_for_float_noise() -> None:
    # A naive sum gives 0.9999999999999999 for ten 0.1s; fsum keeps it exact.
    assert mean([0.1] * 10) == 0.1
