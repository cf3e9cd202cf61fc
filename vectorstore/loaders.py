"""Files to `Article`s: decoding, metadata (title, date, source) and validation.

Parsing is pure (`parse_article` takes text); only `read_article` touches disk.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

from rag.errors import IngestError
from vectorstore.documents import Article
from vectorstore.sentences import sentence_spans

Loaded = tuple[list[Article], list[IngestError]]

SUPPORTED_SUFFIXES = (".txt", ".md")
TITLE_MAX_CHARS = 80
MAX_FILE_BYTES = 5_000_000  # default limit (NEWSRAG_MAX_FILE_BYTES)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_DATE_MARKER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")
_MD_HEADING = re.compile(r"\A\s*#[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


def doc_id_for(path: Path) -> str:
    """A stable id from the file name, so a changed file replaces its old chunks."""
    stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-")
    return slug or "article"


def _valid_date(value: str, source: str) -> str:
    try:
        return dt.date.fromisoformat(value.strip().strip("\"'")).isoformat()
    except ValueError:
        raise IngestError(source, f"invalid date {value!r}: use YYYY-MM-DD") from None


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def short_title(body: str) -> str:
    """A title from the first sentence, cut at a word boundary."""
    spans = sentence_spans(body)
    first = body[spans[0][0] : spans[0][1]] if spans else body
    first = first.strip(" \"'«»“”‘’-—").rstrip(".")
    if len(first) <= TITLE_MAX_CHARS:
        return first
    cut = first[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def parse_article(text: str, source: str, doc_id: str) -> Article:
    """Metadata and body from an article's text (front matter, `# ` heading, date marker)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    fields, rest = _front_matter(text)
    title = fields.get("title", "")
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
        source=fields.get("source") or source,
        body=body,
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


def decode_article_bytes(data: bytes, source: str, max_bytes: int) -> str:
    """UTF-8 text or a clear error naming the problem (empty, too big, binary, encoding)."""
    if not data.strip():
        raise IngestError(source, "the file is empty")
    if len(data) > max_bytes:
        raise IngestError(source, too_big(len(data), max_bytes), kind="too_large")
    if b"\x00" in data:
        raise IngestError(source, "the file looks binary (it contains NUL bytes), not text")
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
    check_suffix(name)
    text = decode_article_bytes(data, name, max_bytes)
    return [parse_article(text, source=name, doc_id=doc_id_for(Path(name)))], []


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
                problems.append(IngestError(str(path), "the folder has no .txt or .md files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(IngestError(str(path), "no such file or folder"))
    return files, problems
