"""Article parsing: the seeds' metadata, front matter, Markdown, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import IngestError
from tests.conftest import SEED_FILES
from vectorstore.loaders import doc_id_for, find_article_files, parse_article, read_article

MAX = 1_000_000


def test_seed_articles_metadata() -> None:
    first, second = (read_article(p, MAX) for p in SEED_FILES)
    assert first.doc_id == "000_8a743153ebfc5c65" and first.date is None
    assert first.source == "000_8a743153ebfc5c65.txt"
    assert first.title.startswith("Se dovessero comparire forze sul terreno")
    assert len(first.title) <= 81
    assert second.date == "2025-09-05"
    assert second.body.startswith("Il Cremlino ha dichiarato venerdì")
    assert "date 2025-09-05" not in second.body
    assert second.title.startswith("Il Cremlino ha dichiarato")


def test_front_matter_and_markdown_heading() -> None:
    text = '---\ntitle: "Vertice a Parigi"\ndate: 2025-09-04\n---\n# Ignored heading\n\nCorpo.'
    article = parse_article(text, source="a.md", doc_id="a")
    assert (article.title, article.date) == ("Vertice a Parigi", "2025-09-04")
    assert article.body == "Corpo."
    md = parse_article("# Il titolo\n\nIl corpo dell'articolo.", source="b.md", doc_id="b")
    assert (md.title, md.body) == ("Il titolo", "Il corpo dell'articolo.")


def test_crlf_and_bom_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "Nuovo Articolo!.txt"
    path.write_bytes("\ufeffPrima riga.\r\nSeconda riga.".encode())
    article = read_article(path, MAX)
    assert article.body == "Prima riga.\nSeconda riga."
    assert article.doc_id == doc_id_for(path) == "nuovo-articolo"


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.txt", b"  \n", "empty"),
        ("binary.txt", b"PK\x03\x04\x00\x00binary", "binary"),
        ("latin1.txt", "Perché è così".encode("latin-1"), "not UTF-8"),
        ("big.txt", b"parola " * 300, "over the"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type"),
        ("baddate.md", b"---\ndate: 2025-13-45\n---\nTesto.", "invalid date"),
        ("onlymeta.md", b"---\ntitle: x\n---\n", "no text"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, name: str, data: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IngestError) as info:
        read_article(path, max_bytes=1_000)
    assert problem in str(info.value) and name in str(info.value)


def test_folders_expand_and_missing_paths_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("B.")
    (tmp_path / "c.csv").write_text("c")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("D.")
    files, problems = find_article_files([tmp_path, tmp_path / "nope.txt"])
    assert [f.name for f in files] == ["a.txt", "b.md"]
    assert len(problems) == 1 and "no such file" in str(problems[0])
