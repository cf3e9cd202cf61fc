"""Pure formatting for the chat page: answers as Markdown with clickable numbered citations,
an article as escaped HTML with its quoted span highlighted, and small parsers.

Each quote is shown once: an extractive answer *is* its quotes, so they stay in the answer
text (each followed by its `[n]` link, the words that answer the question in `<mark>`) and
the sources list gives only title, date, source and offsets; a quote that is not in the
answer text (a generated answer's evidence) is shown under its source instead.

Article text is untrusted: every title, quote and body goes through `escape_markdown` or
`html.escape` before it reaches the page, so nothing in an article is ever interpreted as
HTML, Markdown, a link or an image; the only tags are the page's own `<mark>` pairs.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote

from rag.answering.citations import Citation
from rag.answering.extractive import Answer
from rag.answering.streaming import FinalAnswer, StreamEvent, TextDelta
from rag.errors import InputError, NewsragError
from ui.labels import LANGUAGES, label
from ui.messages import message
from vectorstore.documents import DocumentInfo
from vectorstore.ingest import IngestReport

SOURCES_HEADING = {lang: message(lang, "sources") for lang in LANGUAGES}
CITE_PREFIX = "#cite:"
# The highlight of the words that answer the question; article text cannot contain these
# tags once escaped (its `<` becomes `&lt;`), so they are removed safely from chat history.
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
# Characters that can start Markdown markup anywhere in a line (emphasis, code, links,
# images, strikethrough, tables, maths); `<`, `>`, `&` become entities instead.
_INLINE = re.compile(r"([\\`*_\[\]~|$])")
# Characters that start a block only at the beginning of a line (headings, quotes, lists).
# (`>` needs no backslash: as the entity `&gt;` it cannot open a block quote.)
_LINE_START = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))", re.MULTILINE)
_AUTOLINK = re.compile(r"(://|www\.)", re.IGNORECASE)  # GFM turns these into links
_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")  # a `[n]` citation marker, once escaped: `\[n\]`
_ESCAPED = re.compile(r"\\([\\`*_\[\]~|$#+=./)-])")


def escape_markdown(text: str) -> str:
    """Text that Markdown shows exactly as written: no HTML, emphasis, links or images.

    Only what could start markup is escaped, so a plain sentence stays byte for byte the
    same in the Markdown source (clients that read it get the verbatim quote).
    """
    text = _INLINE.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)
    text = _LINE_START.sub(
        lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"),
        text,
    )
    return html.escape(text, quote=False)


def unescape_markdown(text: str) -> str:
    """The inverse of `escape_markdown` (for chat history sent back to the service)."""
    return _ESCAPED.sub(r"\1", html.unescape(text))


def quote_digest(quote: str) -> str:
    """A short fingerprint of a quote, so a citation link can tell if its article changed."""
    return hashlib.sha256(quote.encode("utf-8")).hexdigest()[:10]


def citation_ref(c: Citation) -> str:
    """The link target of a citation: `#cite:<doc_id>:<start>:<end>:<digest>`."""
    return f"{CITE_PREFIX}{url_quote(c.doc_id, safe='')}:{c.start}:{c.end}:{quote_digest(c.quote)}"


@dataclass(frozen=True)
class CitationRef:
    doc_id: str
    start: int
    end: int
    digest: str


_REF = re.compile(r"^#?cite:([^:]+):(\d{1,9}):(\d{1,9}):([0-9a-f]{10})$")


def parse_citation_ref(ref: str) -> CitationRef:
    """The parts of a citation link; `InputError` for anything else."""
    match = _REF.match(ref.strip())
    if not match:
        raise InputError(f"not a citation reference: {ref[:80]!r}")
    doc_id, start, end, digest = match.groups()
    return CitationRef(url_unquote(doc_id), int(start), int(end), digest)


def _at_line_start(before: str) -> bool:
    """Whether text that follows `before` starts a line (after optional indentation)."""
    return not before.rsplit("\n", 1)[-1].strip()


def _escape_part(text: str, line_start: bool) -> str:
    """`escape_markdown` for a piece of a longer text: a block marker (`#`, `-`, `1.`…) at
    the piece's start is escaped only if the piece really starts a line."""
    return escape_markdown(text) if line_start else escape_markdown("x" + text)[1:]


def _answering_span(c: Citation) -> tuple[int, int] | None:
    """The span's offsets inside the quote, when it is a real, verbatim part of it."""
    span = c.span
    if span is None or not c.start <= span.start < span.end <= c.end:
        return None
    a, b = span.start - c.start, span.end - c.start
    return (a, b) if c.quote[a:b] == span.text else None


def _marked_lines(quote: str, span: tuple[int, int] | None, line_start: bool) -> list[str]:
    """The quote's lines, escaped, with the part inside `span` (offsets in the quote) in
    `<mark>` (closed at a line end, so each line stands alone in a block quote)."""
    lines = []
    pos = 0
    for i, line in enumerate(quote.split("\n")):
        first = line_start or i > 0
        lo, hi = pos, pos + len(line)
        if span is not None and span[0] < hi and span[1] > lo:
            a, b = max(span[0], lo) - lo, min(span[1], hi) - lo
            lines.append(
                f"{_escape_part(line[:a], first)}{MARK_OPEN}{_escape_part(line[a:b], False)}"
                f"{MARK_CLOSE}{_escape_part(line[b:], False)}"
            )
        else:
            lines.append(_escape_part(line, first))
        pos = hi + 1
    return lines


def highlighted_quote(c: Citation, line_start: bool = True) -> str:
    """The quote as Markdown: escaped, verbatim apart from `<mark>` around its answering span."""
    return "\n".join(_marked_lines(c.quote, _answering_span(c), line_start))


def _quote_block(c: Citation) -> str:
    raw = c.quote.split("\n")
    marked = _marked_lines(c.quote, _answering_span(c), True)
    return "  \n   > ".join(m for line, m in zip(raw, marked, strict=True) if line.strip())


def _quotes_in_text(text: str, citations: Sequence[Citation]) -> list[tuple[int, Citation]]:
    """Where each citation's quote stands in the answer text, followed by its marker
    (an extractive answer is its quotes), in text order, never overlapping."""
    found = []
    for c in citations:
        at = text.find(f"{c.quote} [{c.n}]")
        if c.quote and at >= 0:
            found.append((at, c))
    found.sort(key=lambda item: item[0])
    kept: list[tuple[int, Citation]] = []
    for at, c in found:
        if not kept or at >= kept[-1][0] + len(kept[-1][1].quote):
            kept.append((at, c))
    return kept


def format_answer(answer: Answer, lang: str = "it") -> str:
    """Markdown for one answer: the text with linked `[n]` markers and each quote in it
    highlighted, then numbered references (title linking to the highlighted article, date,
    source, offsets; the verbatim quote only when the answer text does not hold it)."""
    notice = getattr(answer, "notice", None)  # set by LLM answerers (rag.answering.streaming)
    head = [f"*{escape_markdown(notice)}*", ""] if notice else []
    if answer.abstained or not answer.citations:
        return "\n".join([*head, escape_markdown(answer.answer)])
    refs = {c.n: citation_ref(c) for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[[{n}]]({refs[n]})" if n in refs else match.group(0)

    def plain(start: int, end: int) -> str:  # answer text outside the quotes
        part = _escape_part(answer.answer[start:end], _at_line_start(answer.answer[:start]))
        return _MARKER.sub(link, part)

    text = answer.answer
    parts, pos, quoted = [], 0, set()
    for at, c in _quotes_in_text(text, answer.citations):
        parts += [plain(pos, at), highlighted_quote(c, _at_line_start(text[:at]))]
        pos = at + len(c.quote)
        quoted.add(c.n)
    parts.append(plain(pos, len(text)))
    lines = [*head, "".join(parts), "", f"**{SOURCES_HEADING.get(lang, 'Fonti')}**"]
    for c in answer.citations:
        when = f" — {c.date}" if c.date else ""
        entry = f"{c.n}. [{escape_markdown(c.title)}]({refs[c.n]}){when} · "
        entry += f"{escape_markdown(c.source)} [{c.start}–{c.end}]"
        if c.n not in quoted:
            entry += f"  \n   > {_quote_block(c)}"
        lines.append(entry)
    return "\n".join(lines)


def format_events(events: Iterable[StreamEvent], lang: str = "it") -> Iterator[str]:
    """The chat message as it grows: the text so far, then the formatted final answer."""
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text += event.text
            yield escape_markdown(text)
        elif isinstance(event, FinalAnswer):
            yield format_answer(event.answer, lang)


def article_html(
    title: str, day: str | None, source: str, body: str, ref: CitationRef, lang: str = "it"
) -> str:
    """The article, escaped, with the cited span in `<mark>` when it still holds the quote."""
    span_ok = 0 <= ref.start < ref.end <= len(body)
    intact = span_ok and quote_digest(body[ref.start : ref.end]) == ref.digest
    meta = " · ".join(html.escape(p) for p in (day, source) if p)
    if intact:
        text = (
            f"{html.escape(body[: ref.start])}<mark id='cite-mark'>"
            f"{html.escape(body[ref.start : ref.end])}</mark>{html.escape(body[ref.end :])}"
        )
        note = ""
    else:
        text = html.escape(body)
        note = note_html(label(lang, "article_changed"))
    return (
        f"<article class='cited-article'><h3>{html.escape(title)}</h3>"
        f"<p class='cite-meta'>{meta}</p>{note}<div class='cite-body'>{text}</div></article>"
    )


def note_html(text: str) -> str:
    """A notice in the article panel (escaped)."""
    return f"<p class='cite-note'>{html.escape(text)}</p>"


def article_hint(lang: str) -> str:
    """The article panel before any source is clicked."""
    return f"<p class='article-hint'>{html.escape(label(lang, 'article_hint'))}</p>"


def relabel_panel(panel: str | None, lang: str) -> str:
    """The article panel after a language switch: its hint or notice in `lang`, the article
    itself unchanged (its escaped text cannot contain the page's own `<p class=…>` tags)."""
    if not panel or not panel.strip():
        return article_hint(lang)
    for other in LANGUAGES:
        panel = panel.replace(article_hint(other), article_hint(lang))
        for was, now in zip(_panel_notes(other), _panel_notes(lang), strict=True):
            panel = panel.replace(note_html(was), note_html(now))
    return panel


def _panel_notes(lang: str) -> list[str]:
    """The notices the article panel may show instead of (or above) an article."""
    notes = [label(lang, "article_missing"), label(lang, "article_changed")]
    return [*notes, message(lang, "invalid_request")]


def document_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    """Table rows (title, date, chunks, id), newest first; titles stay text in a Dataframe."""
    ordered = sorted(documents, key=lambda d: (d.date or "", d.title), reverse=True)
    return [[d.title, d.date or "", d.chunks, d.doc_id] for d in ordered]


def document_choices(documents: Sequence[DocumentInfo]) -> list[tuple[str, str]]:
    """Dropdown choices `(label, doc_id)` for deleting an article."""
    return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in documents]


def upload_summary(results: Sequence[tuple[str, IngestReport]], lang: str = "it") -> str:
    """One escaped Markdown line per uploaded file: what happened to it."""
    keys = ("added", "updated", "unchanged", "duplicates", "rejected")
    words = [message(lang, key) for key in keys]
    lines = []
    for name, report in results:
        parts = [
            f"{words[0]}: {len(report.added)}",
            f"{words[1]}: {len(report.updated)}",
            f"{words[2]}: {len(report.unchanged)}",
        ]
        if report.duplicates:
            parts.append(f"{words[3]}: {len(report.duplicates)}")
        line = f"- **{escape_markdown(name)}** — " + ", ".join(parts)
        for problem in report.skipped:
            line += f"  \n  ⚠️ {words[4]}: {escape_markdown(problem.problem)}"
        lines.append(line)
    return "\n".join(lines)


def delete_summary(doc_id: str, removed: bool, lang: str = "it") -> str:
    """The outcome of deleting an article, as escaped Markdown."""
    if removed:
        return f"🗑️ {message(lang, 'deleted')}: {escape_markdown(doc_id)}"
    return f"⚠️ {message(lang, 'not_found')}: {escape_markdown(doc_id)}"


class DateInputError(InputError):
    """A date input that is not a date (the page says so in its language)."""

    def __init__(self, value: Any) -> None:
        self.value = str(value)[:40]
        super().__init__(f"not a date: {self.value!r}; use YYYY-MM-DD")


def error_text(exc: NewsragError, lang: str = "it") -> str:
    """An error as a chat message or status line: what kind of failure, in the page's
    language, then the service's own explanation (escaped)."""
    headline = message(lang, "invalid_request" if isinstance(exc, InputError) else "failed")
    if isinstance(exc, DateInputError):
        detail = message(lang, "bad_date").format(value=escape_markdown(exc.value))
    else:
        detail = escape_markdown(str(exc))
    return f"⚠️ {headline} — {detail}"


def parse_day(value: Any) -> date | None:
    """A date from the page's date inputs: empty → None; `YYYY-MM-DD[ …]` → that day."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value).date()
    text = str(value).strip()[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DateInputError(value) from None


def message_text(content: Any) -> str:
    """Plain text of a Gradio message, whose content may be a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, Sequence):
        return " ".join(message_text(part) for part in content)
    return ""


def _without_sources(text: str) -> str:
    """An answer as the service wrote it: no reference list, links, highlights or escapes."""
    for heading in SOURCES_HEADING.values():
        text = text.split(f"**{heading}**")[0]
    text = text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
    text = re.sub(r"\[\[(\d+)\]\]\(#cite:[^)]*\)", r"[\1]", text)
    return unescape_markdown(text).strip()


def history_for_service(history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Gradio chat history to the service's: plain answer text, without the reference lists."""
    turns = []
    for turn in history:
        role = turn.get("role")
        if role in ("user", "assistant"):
            text = message_text(turn.get("content", ""))
            turns.append(
                {"role": role, "content": _without_sources(text) if role == "assistant" else text}
            )
    return turns
