"""Sentence boundaries with character offsets, tuned for Italian news prose.

Offsets matter more than linguistic perfection: every citation is a sentence
span of the stored body, so spans never include surrounding whitespace.
"""

from __future__ import annotations

import re

# Lowercase abbreviations that end with a period but do not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    sig sigg sig.ra dott dott.ssa prof prof.ssa avv ing arch on sen dr mr mrs ms st
    ecc es ca art artt cfr n nn no p pp pag vol cap fig tel etc vs c.a al ss
    gen col magg ten cap mons fr
    """.split()
)
# A sentence may end at . ! ? … followed by closing quotes or brackets.
_END = re.compile(r"[.!?…]+[»”\"’')\]]*(?=\s)")
_MAX_QUOTED_SENTENCE = 400
_LOOKBEHIND = 64  # characters before a period that can hold an abbreviation
_NEXT_STARTS = re.compile(r"\s+[«“\"'(\[]?[A-ZÀ-ÖØ-Þ0-9]")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial."""
    if text[dot] != ".":
        return False
    # Only the word before the period matters: look at a short window, not the whole text
    # so far (that made splitting quadratic in the article's length).
    match = re.search(r"([\w.]+)$", text[max(0, dot - _LOOKBEHIND) : dot])
    if not match:
        return False
    word = match.group(1)
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. F. Kennedy"
    return word.lower() in _ABBREVIATIONS


def _inside_quote(segment: str) -> bool:
    """True when `segment` opened a «…» or “…” quote that is still open (a short one)."""
    opened = segment.count("«") + segment.count("“")
    closed = segment.count("»") + segment.count("”")
    return opened > closed and len(segment) < _MAX_QUOTED_SENTENCE


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split `text` into sentence spans; line breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_start = line.start()
        cursor = line_start
        segment = line.group(0)
        for end in _END.finditer(segment):
            stop = line_start + end.end()
            if not _NEXT_STARTS.match(text, stop):
                continue
            if _is_abbreviation(text, line_start + end.start()) and end.group(0) == ".":
                continue
            if _inside_quote(text[cursor:stop]):
                continue
            span = _trim(text, cursor, stop)
            if span:
                spans.append(span)
            cursor = stop
        span = _trim(text, cursor, line.end())
        if span:
            spans.append(span)
    return spans
