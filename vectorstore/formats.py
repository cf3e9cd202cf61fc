"""Article formats beyond plain text: HTML (trafilatura), PDF (pypdf) and JSONL.

Each parser takes a file's bytes or text and returns articles, raising
`IngestError` with a message naming the file (or `file:line`) and the problem.
Nothing here touches the disk.
"""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
from typing import Any

from rag.errors import IngestError
from vectorstore.dates import maybe_date, normalise_date
from vectorstore.documents import Article
from vectorstore.naming import short_title, slugify

_SENTENCE_END = re.compile(r"[.!?…:;»”\"')\]]$")


def clean_text(text: str) -> str:
    """NFC, Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_html(data: bytes, source: str, doc_id: str) -> Article:
    """The main text and metadata of a web article; menus, footers and scripts are dropped."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            # No guessing from copyright lines or "today": only a date the page states.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # lxml and trafilatura raise many kinds on broken markup
        raise IngestError(source, f"the HTML cannot be parsed ({exc.__class__.__name__})") from None
    body = clean_text(str(getattr(doc, "text", "") or "")) if doc is not None else ""
    if not body:
        raise IngestError(source, "no article text found in the HTML (is it a web article?)")
    title = clean_text(str(getattr(doc, "title", "") or ""))
    if title:
        first, _, rest = body.partition("\n")
        if first.strip() == title and rest.strip():
            body = rest.strip()  # trafilatura repeats the headline as the first line
    return Article(
        doc_id=doc_id,
        title=title or short_title(body),
        date=maybe_date(getattr(doc, "date", None)),
        source=source,
        body=body,
        author=str(getattr(doc, "author", "") or "") or None,
        url=str(getattr(doc, "url", "") or "") or None,
    )


def join_pdf_lines(text: str) -> str:
    """Undo a PDF's hard line breaks: hyphenated words rejoined, wrapped lines joined.

    A line ending in sentence punctuation, or followed by a blank line, keeps its
    break, so sentences and paragraphs survive.
    """
    lines = clean_text(text).split("\n")
    out: list[str] = []
    for line in lines:
        line = line.strip()
        if not out or not line or not out[-1] or _SENTENCE_END.search(out[-1]):
            out.append(line)
        elif re.search(r"\w-$", out[-1]) and line[:1].islower():
            out[-1] = out[-1][:-1] + line
        else:
            out[-1] = f"{out[-1]} {line}"
    return clean_text("\n".join(out))


def _pdf_meta(reader: Any, key: str) -> str | None:
    try:
        value = (reader.metadata or {}).get(key)
    except Exception:  # a damaged info dictionary only loses the metadata
        return None
    return str(value).strip() or None if value is not None else None


def parse_pdf(data: bytes, source: str, doc_id: str) -> Article:
    """The text of every page; encrypted, corrupt or image-only PDFs get a clear error."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not ours to print

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise FileNotDecryptedError("password")
            except (FileNotDecryptedError, DependencyError, NotImplementedError):
                raise IngestError(
                    source, "the PDF is encrypted with a password: save an unprotected copy"
                ) from None
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise IngestError(
            source, f"the PDF cannot be read; is it corrupt or truncated? ({exc})"
        ) from None
    body = join_pdf_lines("\n\n".join(pages))
    if not body:
        raise IngestError(source, "the PDF has no extractable text (a scan? run OCR first)")
    return Article(
        doc_id=doc_id,
        title=_pdf_meta(reader, "/Title") or short_title(body),
        date=maybe_date(_pdf_meta(reader, "/CreationDate")),
        source=source,
        body=body,
        author=_pdf_meta(reader, "/Author"),
    )


def _jsonl_article(raw: object, source: str, where: str) -> Article:
    if not isinstance(raw, dict):
        raise IngestError(where, "each line must be a JSON object with id, title, text, date, url")
    text = raw.get("text")
    if not isinstance(text, str) or not clean_text(text):
        raise IngestError(where, "the article has no 'text'")
    doc_id = slugify(str(raw.get("id") or ""))
    if not raw.get("id") or not doc_id:
        raise IngestError(where, "the article has no 'id' (a stable id per article is needed)")
    date = raw.get("date")
    try:
        iso = normalise_date(date) if date else None
    except ValueError:
        raise IngestError(where, f"invalid date {date!r}: use YYYY-MM-DD") from None
    body = clean_text(text)
    return Article(
        doc_id=doc_id,
        title=clean_text(str(raw.get("title") or "")) or short_title(body),
        date=iso,
        source=source,
        body=body,
        author=str(raw["author"]).strip() or None if raw.get("author") else None,
        url=str(raw["url"]).strip() or None if raw.get("url") else None,
    )


def parse_jsonl(text: str, source: str) -> tuple[list[Article], list[IngestError]]:
    """One article per line; a malformed line is reported as `file:line` and skipped."""
    articles: list[Article] = []
    problems: list[IngestError] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(IngestError(where, f"not valid JSON ({exc.msg})"))
            continue
        try:
            articles.append(_jsonl_article(raw, source, where))
        except IngestError as exc:
            problems.append(exc)
    if not articles and not problems:
        raise IngestError(source, "the file has no articles")
    return articles, problems
