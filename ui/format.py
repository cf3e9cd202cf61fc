"""Pure formatting for the chat page: answers as Markdown with clickable numbered citations,
an article as escaped HTML with its quoted span highlighted, and small parsers.

Article text is untrusted: every title, quote and body goes through `escape_markdown` or
`html.escape` before it reaches the page, so nothing in an article is ever interpreted as
HTML, Markdown, a link or an image.
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
from rag.errors import InputError
from ui.labels import label
from vectorstore.documents import DocumentInfo
from vectorstore.ingest import IngestReport

SOURCES_HEADING = {"it": "Fonti", "en": "Sources"}
CITE_PREFIX = "#cite:"
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


def _quote_block(quote: str) -> str:
    lines = [escape_markdown(line) for line in quote.splitlines() if line.strip()]
    return "  \n   > ".join(lines)


def format_answer(answer: Answer, lang: str = "it") -> str:
    """Markdown for one answer: the text with linked `[n]` markers, then numbered references
    (title linking to the highlighted article, date, source, offsets, verbatim quote)."""
    notice = getattr(answer, "notice", None)  # set by LLM answerers (rag.answering.streaming)
    head = [f"*{escape_markdown(notice)}*", ""] if notice else []
    text = escape_markdown(answer.answer)
    if answer.abstained or not answer.citations:
        return "\n".join([*head, text])
    refs = {c.n: citation_ref(c) for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[[{n}]]({refs[n]})" if n in refs else match.group(0)

    lines = [*head, _MARKER.sub(link, text), "", f"**{SOURCES_HEADING.get(lang, 'Fonti')}**"]
    for c in answer.citations:
        when = f" — {c.date}" if c.date else ""
        lines.append(
            f"{c.n}. [{escape_markdown(c.title)}]({refs[c.n]}){when} · "
            f"{escape_markdown(c.source)} [{c.start}–{c.end}]  \n   > {_quote_block(c.quote)}"
        )
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
        note = f"<p class='cite-note'>{html.escape(label(lang, 'article_changed'))}</p>"
    return (
        f"<article class='cited-article'><h3>{html.escape(title)}</h3>"
        f"<p class='cite-meta'>{meta}</p>{note}<div class='cite-body'>{text}</div></article>"
    )


def document_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    """Table rows (title, date, chunks, id), newest first; titles stay text in a Dataframe."""
    ordered = sorted(documents, key=lambda d: (d.date or "", d.title), reverse=True)
    return [[d.title, d.date or "", d.chunks, d.doc_id] for d in ordered]


def document_choices(documents: Sequence[DocumentInfo]) -> list[tuple[str, str]]:
    """Dropdown choices `(label, doc_id)` for deleting an article."""
    return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in documents]


def upload_summary(results: Sequence[tuple[str, IngestReport]], lang: str = "it") -> str:
    """One escaped Markdown line per uploaded file: what happened to it."""
    words = {
        "it": ("aggiunti", "aggiornati", "invariati", "duplicati", "scartato"),
        "en": ("added", "updated", "unchanged", "duplicates", "rejected"),
    }[lang if lang in ("it", "en") else "it"]
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
        raise InputError(f"not a date: {str(value)[:40]!r}; use YYYY-MM-DD") from None


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
    """An answer as the service wrote it: no notice, reference list, links or escapes."""
    for heading in SOURCES_HEADING.values():
        text = text.split(f"**{heading}**")[0]
    text = re.sub(r"\[\[(\d+)\]\]\(#cite:[^)]*\)", r"[\1]", text)
    return unescape_markdown(text).strip()


def history_for_service(history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Gradio chat history to the service's: plain answer text, without the reference lists."""
    turns = []
    for message in history:
        role = message.get("role")
        if role in ("user", "assistant"):
            text = message_text(message.get("content", ""))
            turns.append(
                {"role": role, "content": _without_sources(text) if role == "assistant" else text}
            )
    return turns
