"""The page's pure formatting: escaping, citation links, each quote once with its answering
span highlighted, the highlighted article, tables, and the page's words in both languages."""

from __future__ import annotations

from datetime import date

import pytest

from rag.answering.citations import Citation, Span
from rag.answering.extractive import Answer
from rag.answering.language import detect_language
from rag.answering.streaming import AnswerWithNotice, FinalAnswer, TextDelta
from rag.errors import IngestError, InputError, NewsragError
from ui.format import (
    MARK_CLOSE,
    MARK_OPEN,
    DateInputError,
    article_hint,
    article_html,
    citation_ref,
    delete_summary,
    document_choices,
    document_rows,
    error_text,
    escape_markdown,
    format_answer,
    format_events,
    highlighted_quote,
    history_for_service,
    note_html,
    parse_citation_ref,
    parse_day,
    relabel_panel,
    unescape_markdown,
    upload_summary,
)
from ui.labels import LABELS, LANGUAGES, label, pick_language
from ui.messages import EXAMPLES, MESSAGES
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


def span(body: str, words: str) -> Span:
    start = body.index(words)
    return Span(start=start, end=start + len(words), text=words)


def unmarked(markdown: str) -> str:
    """What the reader sees of escaped Markdown once the highlight markup is gone."""
    return unescape_markdown(markdown.replace(MARK_OPEN, "").replace(MARK_CLOSE, ""))


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
    assert text.startswith(f"{QUOTE} [[1]]({ref})\n")  # the answer is the verbatim quote
    assert "**Fonti**" in text and "**Sources**" in format_answer(answer(), "en")
    assert text.endswith(f"1. [Il \\*ponte\\*]({ref}) — 2025-10-02 · ponte.md [{START}–{END}]")


def test_each_quote_is_shown_once() -> None:
    """An extractive answer is its quotes: the sources list does not repeat them."""
    second = "Primo periodo."
    cites = [citation(), citation(n=2, quote=second, start=0, end=len(second))]
    text = format_answer(answer(f"{QUOTE} [1] {second} [2]", cites))
    assert text.count(QUOTE) == 1 and text.count(second) == 1
    assert ">" not in text  # no block quote
    body, sources = text.split("**Fonti**")
    assert QUOTE in body and second in body and QUOTE not in sources


def test_a_quote_outside_the_answer_text_is_shown_under_its_source() -> None:
    """A generated answer paraphrases: its citations' quotes are the evidence, shown once."""
    cite = citation(span=span(BODY, "4 milioni"))
    generated = AnswerWithNotice(
        answer="Costa 4 milioni [1].", abstained=False, citations=[cite], sources=[], notice=None
    )
    text = format_answer(generated, "en")
    ref = citation_ref(cite)
    assert text.startswith(f"Costa 4 milioni [[1]]({ref}).\n")
    assert text.endswith("  \n   > Il sindaco ha detto: «il ponte costa <mark>4 milioni</mark>».")
    assert text.count("il ponte costa") == 1


def test_the_answering_span_is_highlighted_inside_the_verbatim_quote() -> None:
    cite = citation(span=span(BODY, "4 milioni"))
    text = format_answer(answer(cites=[cite]))
    ref = citation_ref(cite)
    marked = "Il sindaco ha detto: «il ponte costa <mark>4 milioni</mark>»."
    assert text.startswith(f"{marked} [[1]]({ref})\n")
    assert text.count(MARK_OPEN) == text.count(MARK_CLOSE) == 1
    assert unmarked(marked) == QUOTE  # verbatim, character for character, apart from the markup
    assert list(format_events([FinalAnswer(answer(cites=[cite]))]))[-1] == text


@pytest.mark.parametrize(
    ("quote", "words"),
    [("Disse: <b>**Mario** [1]</b> & co.", "**Mario** [1]"), ("1. Mario Rossi disse no.", "1."),
     ("- Mario Rossi, a www.x.org, disse no.", "- Mario"),
     ("Roma e\n# Milano sono città.", "Milano"), ("La spesa: $5 | 10_000 `euro`.", "$5 | 10_000")],
)  # fmt: skip
def test_highlighted_quotes_stay_escaped_and_verbatim(quote: str, words: str) -> None:
    body = f"Prima. {quote} Dopo."
    start = body.index(quote)
    cite = citation(quote=quote, start=start, end=start + len(quote), span=span(body, words))
    marked = highlighted_quote(cite)
    assert unmarked(marked) == quote
    inside = marked.split(MARK_OPEN)[1].split(MARK_CLOSE)[0]
    assert unescape_markdown(inside) == words
    assert "<" not in marked.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")  # the only tags
    assert "](" not in marked.replace("\\](", "") and "://" not in marked
    # Without a span, the quote is exactly as escaped as before (block markers at line starts).
    assert highlighted_quote(citation(quote=quote, start=start, end=start + len(quote))) == (
        escape_markdown(quote)
    )
    # In the answer, a `[1]` inside the quote stays text; only the marker after it is a link.
    text = format_answer(answer(f"{quote} [1]", [cite]))
    assert text.count("](#cite:") == 2  # the marker and the source's title


@pytest.mark.parametrize(
    "bad",
    [Span(start=0, end=5, text="Primo"),  # outside the quote
     Span(start=START, end=START + 10, text="altro test"),  # not the body's text
     Span(start=END - 2, end=END + 3, text=BODY[END - 2 : END + 3])],  # crosses the quote's end
)  # fmt: skip
def test_a_span_that_is_not_inside_the_quote_is_not_highlighted(bad: Span) -> None:
    text = format_answer(answer(cites=[citation(span=bad)]))
    assert MARK_OPEN not in text and text.startswith(f"{QUOTE} [[1]]")


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


def test_history_for_service_strips_references_highlights_and_escapes() -> None:
    marked = citation(span=span(BODY, "4 milioni"))
    for lang in LANGUAGES:
        history = [
            {"role": "user", "content": "Quanto *costa* il ponte?"},
            {"role": "assistant", "content": format_answer(answer(), lang)},
            {"role": "user", "content": "E chi lo ha detto?"},
            {"role": "assistant", "content": format_answer(answer(cites=[marked]), lang)},
        ]
        turns = history_for_service(history)
        assert turns[0] == {"role": "user", "content": "Quanto *costa* il ponte?"}
        # The service gets back the answers it wrote, exactly.
        assert turns[1] == turns[3] == {"role": "assistant", "content": f"{QUOTE} [1]"}


def test_parse_day() -> None:
    assert parse_day(None) is None and parse_day("  ") is None
    assert parse_day("2025-09-05") == date(2025, 9, 5)
    assert parse_day("2025-09-05 00:00:00") == date(2025, 9, 5)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_day("5 settembre")
    with pytest.raises(DateInputError) as bad:
        parse_day("5 *settembre*")
    assert error_text(bad.value, "it") == (
        "⚠️ Richiesta non valida — «5 \\*settembre\\*» non è una data: usa il formato AAAA-MM-GG"
    )
    assert "is not a date: use the YYYY-MM-DD format" in error_text(bad.value, "en")


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
    assert "rejected:" in summary
    italian = upload_summary([("x.md", report)], "it")
    assert "aggiunti: 1, aggiornati: 0, invariati: 0" in italian and "scartato:" in italian
    assert delete_summary("a_b<c>", True, "en") == "🗑️ Article deleted: a\\_b&lt;c&gt;"
    assert delete_summary("x", False, "it") == "⚠️ Articolo non trovato: x"


def test_language_choice() -> None:
    assert pick_language("it-IT") == "it" and pick_language("en-GB") == "en"
    assert pick_language("de") == "en" and pick_language(None) == "en"
    assert LABELS["it"].keys() == LABELS["en"].keys()
    assert MESSAGES["it"].keys() == MESSAGES["en"].keys()


def test_example_questions_are_in_the_page_language() -> None:
    for lang in LANGUAGES:
        assert len(EXAMPLES[lang]) == len(set(EXAMPLES[lang])) >= 3
        assert {detect_language(q) for q in EXAMPLES[lang]} == {lang}


def test_errors_speak_the_page_language_and_are_escaped() -> None:
    invalid = InputError("the question has 5000 characters; the limit is *2000*")
    assert error_text(invalid, "it") == (
        "⚠️ Richiesta non valida — the question has 5000 characters; the limit is \\*2000\\*"
    )
    assert error_text(invalid, "en").startswith("⚠️ Invalid request — ")
    failed = NewsragError("a citation did not match <its> article")
    assert error_text(failed, "it").startswith("⚠️ Non è stato possibile completare la richiesta")
    assert error_text(failed, "en") == (
        "⚠️ The request could not be completed — a citation did not match &lt;its&gt; article"
    )


def test_the_article_panel_follows_the_language_switch() -> None:
    assert relabel_panel(None, "en") == relabel_panel("", "en") == article_hint("en")
    assert relabel_panel(article_hint("it"), "en") == article_hint("en")
    assert "Click a source [n]" in article_hint("en") and "Clicca" in article_hint("it")
    missing = note_html(label("it", "article_missing"))
    assert relabel_panel(missing, "en") == note_html(label("en", "article_missing"))
    bad_link = note_html(MESSAGES["en"]["invalid_request"])
    assert relabel_panel(bad_link, "it") == note_html(MESSAGES["it"]["invalid_request"])
    ref = parse_citation_ref(citation_ref(citation()))
    changed = article_html("T", None, "s", "Altro testo. " + BODY, ref, "en")
    assert relabel_panel(changed, "it") == article_html(
        "T", None, "s", "Altro testo. " + BODY, ref, "it"
    )
    # An article is never rewritten, even one quoting the page's own words.
    body = f"{BODY} {label('it', 'article_hint')} {label('it', 'article_missing')}"
    shown = article_html("T", None, "s", body, parse_citation_ref(citation_ref(citation())))
    assert "<mark" in shown and relabel_panel(shown, "en") == shown
