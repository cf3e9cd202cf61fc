"""Dates for news: the range a user filters by, and the dates a question mentions.

"Cosa ha detto il Cremlino venerdì 5 settembre?" is about articles of that day;
retrieval boosts chunks of articles whose publication date matches what the
question names (a day, a month, a weekday) and keeps to an explicit range.
Pure functions over ISO date strings (`YYYY-MM-DD`, as stored).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            "gennaio january jan gen",
            "febbraio february feb",
            "marzo march mar",
            "aprile april apr",
            "maggio may mag",
            "giugno june jun giu",
            "luglio july jul lug",
            "agosto august aug ago",
            "settembre september sep sept set",
            "ottobre october oct ott",
            "novembre november nov",
            "dicembre december dec dic",
        ],
        start=1,
    )
    for name in names.split()
}
WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            "lunedì lunedi monday",
            "martedì martedi tuesday",
            "mercoledì mercoledi wednesday",
            "giovedì giovedi thursday",
            "venerdì venerdi friday",
            "sabato saturday",
            "domenica sunday",
        ]
    )
    for name in names.split()
}
_MONTH = "|".join(sorted((m for m in MONTHS if len(m) > 3), key=len, reverse=True))
_DAY_MONTH = re.compile(
    rf"\b(?P<day>[0-3]?\d)(?:°|º)?\s+(?P<month>{_MONTH})(?:\s+(?P<year>(?:19|20)\d\d))?\b", re.I
)
_MONTH_YEAR = re.compile(
    rf"\b(?P<month>{_MONTH})\s+(?:del\s+|of\s+)?(?P<year>(?:19|20)\d\d)\b", re.I
)
_ISO = re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b")
_NUMERIC = re.compile(r"\b(?P<day>[0-3]?\d)/(?P<month>[01]?\d)/(?P<year>(?:19|20)\d\d)\b")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.I)
DAY_BOOST = 1.0  # an article of the very day the question names
MONTH_BOOST = 0.5  # of the month it names
WEEKDAY_BOOST = 0.3  # of the weekday it names ("venerdì")


@dataclass(frozen=True)
class DateHint:
    """What a question says about when: days (with or without a year), months, weekdays."""

    days: frozenset[tuple[int | None, int, int]] = field(default_factory=frozenset)
    months: frozenset[tuple[int | None, int]] = field(default_factory=frozenset)
    weekdays: frozenset[int] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.days or self.months or self.weekdays)


def _valid(year: int | None, month: int, day: int) -> bool:
    try:
        dt.date(year or 2000, month, day)  # 2000 is a leap year: 29 febbraio is a date
    except ValueError:
        return False
    return True


def question_dates(question: str) -> DateHint:
    """The days, months and weekdays a question names."""
    days: set[tuple[int | None, int, int]] = set()
    months: set[tuple[int | None, int]] = set()
    for pattern in (_DAY_MONTH, _ISO, _NUMERIC):
        for m in pattern.finditer(question):
            month_text = m.group("month")
            month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower()]
            year = int(m.group("year")) if m.group("year") else None
            day = int(m.group("day"))
            if 1 <= month <= 12 and _valid(year, month, day):
                days.add((year, month, day))
    for m in _MONTH_YEAR.finditer(question):
        months.add((int(m.group("year")), MONTHS[m.group("month").lower()]))
    weekdays = {WEEKDAYS[m.group(1).lower()] for m in _WEEKDAY.finditer(question)}
    return DateHint(frozenset(days), frozenset(months), frozenset(weekdays))


def parse_iso(value: str | None) -> dt.date | None:
    """A stored `YYYY-MM-DD` date, or None when absent or malformed."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def date_boost(hint: DateHint, article_date: str | None) -> float:
    """How well an article's date matches what the question names (0: not at all)."""
    date = parse_iso(article_date)
    if not hint or date is None:
        return 0.0
    for y, m, d in hint.days:
        if (m, d) == (date.month, date.day) and y in (None, date.year):
            return DAY_BOOST
    for y, m in hint.months:
        if m == date.month and y in (None, date.year):
            return MONTH_BOOST
    if date.weekday() in hint.weekdays:
        return WEEKDAY_BOOST
    return 0.0


def in_range(article_date: str | None, start: dt.date | None, end: dt.date | None) -> bool:
    """True when no range is set, or the article has a date inside [start, end]."""
    if start is None and end is None:
        return True
    date = parse_iso(article_date)
    if date is None:
        return False  # an undated article cannot be shown to be inside the range
    return (start is None or date >= start) and (end is None or date <= end)
