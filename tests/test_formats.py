"""HTML, PDF and JSONL articles, YAML front matter and date normalisation (pure parsing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import IngestError
from tests.pdf_builder import make_pdf
from vectorstore.dates import maybe_date, normalise_date
from vectorstore.formats import join_pdf_lines, parse_html, parse_jsonl, parse_pdf
from vectorstore.loaders import articles_from_bytes, parse_article, read_articles

MAX = 1_000_000

HTML = """<!doctype html><html><head><meta charset="utf-8">
<title>Nuovo ponte a Genova | Il Giornale</title>
<link rel="canonical" href="https://example.it/cronaca/ponte">
<meta name="author" content="Marta Bianchi">
<meta property="article:published_time" content="2025-10-02T09:00:00+02:00">
</head><body><nav><a href="/">Home</a> <a href="/c">Cronaca</a> <a href="/s">Sport</a></nav>
<article><h1>Nuovo ponte a Genova</h1>
<p>Il sindaco Marta Rinaldi ha inaugurato giovedì il nuovo ponte sul Polcevera, davanti a
centinaia di cittadini arrivati da tutta la Liguria.</p>
<p>L'opera è costata 200 milioni di euro ed è stata completata in due anni di lavori.</p>
</article><script>trackVisit("ponte");</script>
<footer>Copyright 2024 Il Giornale. Tutti i diritti riservati. Cookie policy.</footer>
</body></html>"""


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2025-09-05", "2025-09-05"),
        ("2025-09-05T10:30:00Z", "2025-09-05"),
        ("2025-09-05T23:30:00+02:00", "2025-09-05"),
        ("05/09/2025", "2025-09-05"),
        ("5.9.2025", "2025-09-05"),
        ("5 settembre 2025", "2025-09-05"),
        ("venerdì 5 settembre 2025", "2025-09-05"),
        ("1° ottobre 2025", "2025-10-01"),
        ("September 5, 2025", "2025-09-05"),
        ("Fri, 05 Sep 2025 10:00:00 +0200", "2025-09-05"),
        ("D:20250905120000+02'00'", "2025-09-05"),
    ],
)
def test_dates_are_normalised_to_iso(raw: str, iso: str) -> None:
    assert normalise_date(raw) == iso


def test_unreadable_dates() -> None:
    for raw in ("2025-13-45", "31/02/2025", "ieri", ""):
        with pytest.raises(ValueError):
            normalise_date(raw)
    assert maybe_date("ieri") is None and maybe_date(None) is None


def test_yaml_front_matter_with_author_url_and_a_written_date() -> None:
    text = (
        "---\ntitle: 'Vertice: accordo raggiunto'\ndate: 4 settembre 2025\n"
        "author: Luca Neri\nurl: https://example.it/vertice\ntags: [politica, esteri]\n---\n"
        "Il vertice si è chiuso con un accordo.\n"
    )
    article = parse_article(text, source="v.md", doc_id="v")
    assert article.title == "Vertice: accordo raggiunto" and article.date == "2025-09-04"
    assert (article.author, article.url) == ("Luca Neri", "https://example.it/vertice")
    assert article.body == "Il vertice si è chiuso con un accordo."


def test_html_article_metadata_and_main_text_only() -> None:
    article = parse_html(HTML.encode(), "ponte.html", "ponte")
    assert article.title == "Nuovo ponte a Genova"
    assert article.date == "2025-10-02"
    assert article.author == "Marta Bianchi"
    assert article.url == "https://example.it/cronaca/ponte"
    assert article.body.startswith("Il sindaco Marta Rinaldi ha inaugurato")
    assert "200 milioni" in article.body
    for boilerplate in ("Home", "Sport", "Cookie", "trackVisit", "Copyright"):
        assert boilerplate not in article.body


def test_html_in_latin1_with_a_declared_charset() -> None:
    html = HTML.replace('charset="utf-8"', 'charset="iso-8859-1"').encode("latin-1")
    article, problems = articles_from_bytes(html, "ponte.html", MAX)
    assert problems == [] and "giovedì" in article[0].body


def test_broken_html_keeps_its_text_and_empty_html_is_reported() -> None:
    broken = b"<html><body><div><p>Testo rotto <b>senza chiusura<p>Il consiglio comunale ha "
    broken += b"approvato il bilancio con ventidue voti favorevoli e otto contrari"
    article = parse_html(broken, "rotto.html", "rotto")
    assert "bilancio con ventidue voti" in article.body and article.date is None
    with pytest.raises(IngestError, match="no article text found in the HTML"):
        parse_html(b"<html><body><script>var x = 1;</script></body></html>", "vuoto.html", "v")


def test_pdf_text_metadata_and_rejoined_lines() -> None:
    data = make_pdf(
        [
            "Il sindaco Marta Rinaldi ha inaugurato giovedì il nuovo ponte sul Polce-",
            "vera, davanti a centinaia di cittadini.",
            "L'opera è costata 200 milioni di euro.",
        ],
        title="Nuovo ponte",
        author="Marta Bianchi",
        created="D:20251002090000+02'00'",
    )
    article = parse_pdf(data, "ponte.pdf", "ponte")
    assert (article.title, article.date, article.author) == (
        "Nuovo ponte",
        "2025-10-02",
        "Marta Bianchi",
    )
    assert article.body == (
        "Il sindaco Marta Rinaldi ha inaugurato giovedì il nuovo ponte sul Polcevera, davanti a "
        "centinaia di cittadini.\nL'opera è costata 200 milioni di euro."
    )


def test_join_pdf_lines_keeps_sentences_and_paragraphs() -> None:
    assert join_pdf_lines("Una riga\nspezzata.\nAltra frase.\n\n\nNuovo para-\ngrafo") == (
        "Una riga spezzata.\nAltra frase.\n\nNuovo paragrafo"
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (make_pdf(["Documento riservato."], password="segreta"), "encrypted"),
        (b"%PDF-1.7\n1 0 obj garbage", "corrupt or truncated"),
        (make_pdf(["Troncato a metà del file."])[:300], "corrupt or truncated"),
        (make_pdf([]), "no extractable text"),
    ],
)
def test_bad_pdfs_get_clear_errors(data: bytes, problem: str) -> None:
    with pytest.raises(IngestError) as info:
        articles_from_bytes(data, "doc.pdf", MAX)
    assert problem in str(info.value) and "doc.pdf" in str(info.value)


def test_jsonl_articles_and_malformed_lines() -> None:
    text = "\n".join(
        [
            '{"id": "ansa-1", "title": "Primo", "text": "Il primo articolo.", '
            '"date": "05/09/2025", "url": "https://example.it/1"}',
            "",
            '{"id": "ansa-2", "text": "Il secondo articolo, senza titolo né data."}',
            '{"id": "ansa-3", "title": "rotto", "text": "manca la parentesi"',
            '["non", "un", "oggetto"]',
            '{"id": "ansa-5", "title": "Senza testo"}',
            '{"title": "Senza id", "text": "Testo."}',
            '{"id": "ansa-7", "text": "Testo.", "date": "ieri"}',
        ]
    )
    articles, problems = parse_jsonl(text, "feed.jsonl")
    assert [a.doc_id for a in articles] == ["ansa-1", "ansa-2"]
    first, second = articles
    assert (first.title, first.date, first.url) == ("Primo", "2025-09-05", "https://example.it/1")
    assert first.source == "feed.jsonl" and second.title.startswith("Il secondo articolo")
    assert [p.source for p in problems] == [f"feed.jsonl:{n}" for n in (4, 5, 6, 7, 8)]
    messages = [p.problem for p in problems]
    assert "not valid JSON" in messages[0] and "JSON object" in messages[1]
    assert "no 'text'" in messages[2] and "no 'id'" in messages[3]
    assert "invalid date" in messages[4]


def test_read_articles_dispatches_on_the_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(HTML, encoding="utf-8")
    (tmp_path / "b.pdf").write_bytes(make_pdf(["Una frase in un PDF."]))
    (tmp_path / "c.jsonl").write_text('{"id": "x1", "text": "Dal feed."}\n{broken\n')
    assert read_articles(tmp_path / "a.html", MAX)[0][0].doc_id == "a"
    assert read_articles(tmp_path / "b.pdf", MAX)[0][0].body == "Una frase in un PDF."
    articles, problems = read_articles(tmp_path / "c.jsonl", MAX)
    assert [a.doc_id for a in articles] == ["x1"] and str(problems[0]).startswith("c.jsonl:2:")
    with pytest.raises(IngestError, match="over the"):
        read_articles(tmp_path / "b.pdf", 100)
