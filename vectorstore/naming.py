"""Ids and titles derived from text: stable article ids and short fallback titles."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from vectorstore.sentences import sentence_spans

TITLE_MAX_CHARS = 80


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits, `_` and `-` (empty when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_-]+", "-", ascii_text.lower()).strip("-")[:120]


def doc_id_for(path: Path) -> str:
    """A stable id from the file name, so a changed file replaces its old chunks."""
    return slugify(path.stem) or "article"


def short_title(body: str) -> str:
    """A title from the first sentence, cut at a word boundary."""
    spans = sentence_spans(body)
    first = body[spans[0][0] : spans[0][1]] if spans else body
    first = first.strip(" \"'«»“”‘’-—").rstrip(".")
    if len(first) <= TITLE_MAX_CHARS:
        return first
    cut = first[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
