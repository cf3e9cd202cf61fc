"""The page's pure formatting: escaping, citation links, the highlighted article, tables."""

from __future__ import annotations

from datetime import date

import pytest

from rag.answering.citations import Citation
from rag.answering.extractive import Answer
from rag.answering.streaming import FinalAnswer, TextDelta
from rag.errors import IngestError, InputError
from ui.format import (
    article_html,
    citation_ref,
    document_choices,
    document_rows,
    escape_markdown,
    format_answer,
    format_events,
    history_for_service,
    parse_citation_ref,
    parse_day,
    unescape_markdown,
    upload_summary,
)
from ui.labels import LABELS, pick_language
from vectorstore.documents import DocumentInfo
from vectorstore.ingest import IngestReport

BODY = "Primo periodo. Il sindaco ha detto: «il ponte costa 4 milioni». Fine."
START = BODY.index("Il sindaco")
END = BODY.index(" Fine.")
QUOTE = BODY[START:END]


def citation(**changes: object) -> Citation:
    base = {"n": 1, "doc_id": "ponte/2025 (1)", "title": "Il *ponte*", "date": "2025-10-02",
            "source": "ponte.md", "quote": QUOTE, "start": START, "end": END}  # fmt: skip
    return Citation(**{**base, **changes})  # type: ignore[arg-type]


def answer(text: str = f"{QUOTE} [1]", cites: list[Citation] | None = None) -> Answer:
    return Answer(answer=text, abstained=False, citations=cites or [citation()], sources=[])


@pytest.mark.parametrize(
    "text",
    ["plain sentence, with 'quotes' and «guillemets»?", "**bold** _it_ `code` ~~x~~ $x$ | a |",
     "[link](http://x.org) ![img](x.png) <script>alert(1)</script> &amp; www.x.org",
     "# heading\n> quote\n- item\n+ item\n1. item\n2) item\n=== ---", "back\\slash \\*"],
)  # fmt: skip
def test_escape_markdown_round_trips_and_neutralises(text: str) -> None:
    escaped = escape_markdown(text)
    assert unescape_markdown(escaped) == text
    assert "<" not in escaped and "](" not in escaped.replace("\\](", "")
    assert "://" not in escaped and "www." not in escaped


def test_plain_sentences_stay_verbatim_in_the_markdown() -> None:
    assert escape_markdown(QUOTE) == QUOTE


def test_citation_ref_round_trip_and_rejects_garbage() -> None:
    c = citation()
    ref = parse_citation_ref(citation_ref(c))
    assert (ref.doc_id, ref.start, ref.end) == (c.doc_id, c.start, c.end)
    for bad in ("", "#cite:x:1:2", "#cite:x:a:2:0123456789", "javascript:alert(1)"):
        with pytest.raises(InputError):
            parse_citation_ref(bad)


def test_format_answer_links_markers_and_lists_references() -> None:
    text = format_answer(answer())
    ref = citation_ref(citation())
    assert f"{QUOTE} [[1]]({ref})" in text
    assert "**Fonti**" in text and "**Sources**" in format_answer(answer(), "en")
    assert f"1. [Il \\*ponte\\*]({ref}) — 2025-10-02 · ponte.md [{START}–{END}]" in text
    assert f"> {QUOTE}" in text


def test_abstention_has_no_references() -> None:
    abstained = Answer(answer="Non ho trovato [1]", abstained=True, citations=[], sources=[])
    assert format_answer(abstained) == "Non ho trovato \\[1\\]"


def test_format_events_grows_then_ends_with_the_answer() -> None:
    a = answer()
    shown = list(format_events([TextDelta("Il sindaco "), TextDelta("ha"), FinalAnswer(a)]))
    assert shown[:2] == ["Il sindaco ", "Il sindaco ha"]
    assert shown[-1] == format_answer(a)


def test_article_html_highlights_the_exact_span_escaped() -> None:
    ref = parse_citation_ref(citation_ref(citation()))
    page = article_html("<b>T</b>", "2025-10-02", "ponte.md", BODY, ref)
    assert f"<mark id='cite-mark'>{QUOTE.replace('«', '«')}</mark>" in page
    assert "&lt;b&gt;T&lt;/b&gt;" in page and "<b>" not in page
    changed = article_html("T", None, "s", "Altro testo. " + BODY, ref)
    assert "<mark" not in changed and "cite-note" in changed


def test_history_for_service_strips_references_and_escapes() -> None:
    history = [
        {"role": "user", "content": "Quanto *costa* il ponte?"},
        {"role": "assistant", "content": format_answer(answer())},
    ]
    turns = history_for_service(history)
    assert turns[0] == {"role": "user", "content": "Quanto *costa* il ponte?"}
    assert turns[1] == {"role": "assistant", "content": f"{QUOTE} [1]"}


def test_parse_day() -> None:
    assert parse_day(None) is None and parse_day("  ") is None
    assert parse_day("2025-09-05") == date(2025, 9, 5)
    assert parse_day("2025-09-05 00:00:00") == date(2025, 9, 5)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_day("5 settembre")


def test_document_rows_choices_and_upload_summary() -> None:
    docs = [
        DocumentInfo("a", "Vecchio", "2024-01-01", "a.txt", None, 3),
        DocumentInfo("b", "Nuovo <b>", "2025-01-01", "b.txt", None, 5),
        DocumentInfo("c", "Senza data", None, "c.txt", None, 1),
    ]
    assert document_rows(docs) == [
        ["Nuovo <b>", "2025-01-01", 5, "b"], ["Vecchio", "2024-01-01", 3, "a"],
        ["Senza data", "", 1, "c"],
    ]  # fmt: skip
    assert document_choices(docs)[0] == ("Vecchio (a)", "a")
    report = IngestReport(added=["x"])
    report.skipped.append(IngestError("x.pdf", "the file is <empty>"))
    summary = upload_summary([("x_*.md", report)], "en")
    assert "x\\_\\*.md" in summary and "added: 1" in summary and "&lt;empty&gt;" in summary


def test_language_choice() -> None:
    assert pick_language("it-IT") == "it" and pick_language("en-GB") == "en"
    assert pick_language("de") == "en" and pick_language(None) == "en"
    assert LABELS["it"].keys() == LABELS["en"].keys()
