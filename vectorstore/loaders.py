"""Files to `Article`s: decoding, metadata (title, date, source, author, URL) and validation.

`.txt` and `.md` (YAML front matter) are parsed here; `.html`, `.pdf` and `.jsonl`
in `vectorstore.formats`. Parsing is pure (bytes or text in); only `read_articles`
and `find_article_files` touch the disk.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from vectorstore.dates import normalise_date
from vectorstore.documents import Article
from vectorstore.formats import parse_html, parse_jsonl, parse_pdf
from vectorstore.naming import TITLE_MAX_CHARS, doc_id_for, short_title, slugify

__all__ = ["TITLE_MAX_CHARS", "doc_id_for", "short_title", "slugify"]

Loaded = tuple[list[Article], list[IngestError]]
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
MAX_FILE_BYTES = 5_000_000  # default limit (NEWSRAG_MAX_FILE_BYTES)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_DATE_MARKER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")
_MD_HEADING = re.compile(r"\A\s*#[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


def _valid_date(value: object, source: str) -> str:
    try:
        return normalise_date(value)
    except ValueError:
        raise IngestError(source, f"invalid date {value!r}: use YYYY-MM-DD") from None


def _simple_fields(block: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (or, when it is not valid YAML, plain `key: value` lines)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    import yaml

    try:
        loaded = yaml.safe_load(match.group(1))
    except (yaml.YAMLError, ValueError):  # e.g. an impossible date such as 2025-13-45
        loaded = None
    fields = loaded if isinstance(loaded, dict) else _simple_fields(match.group(1))
    rest = text[match.end() :]
    return {str(k).strip().lower(): v for k, v in fields.items() if v is not None}, rest


def _text_field(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    return str(value).strip() if value is not None and not isinstance(value, dict | list) else ""


def parse_article(text: str, source: str, doc_id: str) -> Article:
    """Metadata and body from an article's text (front matter, `# ` heading, date marker)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    fields, rest = _front_matter(text)
    title = _text_field(fields, "title")
    date = _valid_date(fields["date"], source) if fields.get("date") else None
    marker = _DATE_MARKER.match(rest)
    if marker:
        date = date or _valid_date(marker.group(1), source)
        rest = rest[marker.end() :]
    if source.endswith(".md"):
        heading = _MD_HEADING.match(rest)
        if heading:
            title = title or heading.group(1).strip()
            rest = rest[heading.end() :]
    body = rest.strip()
    if not body:
        raise IngestError(source, "the article has no text: add a body or remove the file")
    return Article(
        doc_id=doc_id,
        title=title or short_title(body),
        date=date,
        source=_text_field(fields, "source") or source,
        body=body,
        author=_text_field(fields, "author") or None,
        url=_text_field(fields, "url") or None,
    )


def too_big(size: int, max_bytes: int) -> str:
    return f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit (NEWSRAG_MAX_FILE_BYTES)"


def safe_upload_name(filename: str) -> str:
    """A client's file name reduced to a plain, printable base name (never used as a path)."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable()).strip()
    if not base or base.startswith(".") or len(base) > 200:
        raise IngestError(
            filename or "(no name)", "the upload needs a plain file name such as article.txt"
        )
    return base


def check_size(data: bytes, source: str, max_bytes: int) -> None:
    if not data.strip():
        raise IngestError(source, "the file is empty")
    if len(data) > max_bytes:
        raise IngestError(source, too_big(len(data), max_bytes), kind="too_large")


def check_not_binary(data: bytes, source: str, max_bytes: int) -> None:
    check_size(data, source, max_bytes)
    if b"\x00" in data:
        raise IngestError(source, "the file looks binary (it contains NUL bytes), not text")


def decode_article_bytes(data: bytes, source: str, max_bytes: int) -> str:
    """UTF-8 text or a clear error naming the problem (empty, too big, binary, encoding)."""
    check_not_binary(data, source, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            source,
            f"the file is not UTF-8 text (invalid byte at offset {exc.start}): save it as UTF-8",
        ) from None


def check_suffix(name: str) -> str:
    """The lower-case suffix of a supported file name, or a clear error."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            name,
            f"unsupported file type {suffix or '(none)'!r}: use {', '.join(SUPPORTED_SUFFIXES)}",
            kind="unsupported_type",
        )
    return suffix


def articles_from_bytes(data: bytes, name: str, max_bytes: int) -> Loaded:
    """The articles in one file's bytes, with the problems of the parts that were skipped.

    `name` is only a label (the source shown in citations and the doc id's stem);
    nothing here opens a path, so an uploaded file's name is never trusted as one.
    """
    suffix = check_suffix(name)
    doc_id = doc_id_for(Path(name))
    if suffix == ".pdf":
        check_size(data, name, max_bytes)
        return [parse_pdf(data, name, doc_id)], []
    if suffix in (".html", ".htm"):
        check_not_binary(data, name, max_bytes)
        return [parse_html(data, name, doc_id)], []  # bytes: trafilatura honours <meta charset>
    text = decode_article_bytes(data, name, max_bytes)
    if suffix == ".jsonl":
        return parse_jsonl(text, name)
    return [parse_article(text, source=name, doc_id=doc_id)], []


def read_articles(path: Path, max_bytes: int) -> Loaded:
    """Read one file from disk: its articles and the problems of skipped parts."""
    check_suffix(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(path.name, too_big(size, max_bytes), kind="too_large")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path.name, f"cannot read the file ({exc.strerror})") from None
    return articles_from_bytes(data, path.name, max_bytes)


def read_article(path: Path, max_bytes: int) -> Article:
    """Read and parse one single-article file (`.txt`, `.md`)."""
    articles, problems = read_articles(path, max_bytes)
    if problems:
        raise problems[0]
    return articles[0]


def find_article_files(paths: list[Path]) -> tuple[list[Path], list[IngestError]]:
    """Expand folders (recursively) into supported files; report paths that cannot be used."""
    files: list[Path] = []
    problems: list[IngestError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(
                    IngestError(
                        str(path), f"the folder has no {', '.join(SUPPORTED_SUFFIXES)} files"
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(IngestError(str(path), "no such file or folder"))
    return files, problems
