"""Dates in the forms news sources write them, normalised to ISO `YYYY-MM-DD`.

Pure functions. Numeric day/month orders are read the European way (day first),
as Italian sources write them; ISO and RFC 2822 forms are unambiguous.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("gennaio", "january", "gen", "jan"),
            ("febbraio", "february", "feb"),
            ("marzo", "march", "mar"),
            ("aprile", "april", "apr"),
            ("maggio", "may", "mag"),
            ("giugno", "june", "giu", "jun"),
            ("luglio", "july", "lug", "jul"),
            ("agosto", "august", "ago", "aug"),
            ("settembre", "september", "set", "sep", "sept"),
            ("ottobre", "october", "ott", "oct"),
            ("novembre", "november", "nov"),
            ("dicembre", "december", "dic", "dec"),
        ],
        start=1,
    )
    for name in names
}
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_DAY_MONTH_YEAR = re.compile(
    r"^(?:\w+,?\s+)?(\d{1,2})(?:°|º|st|nd|rd|th)?\s+([a-zà-ù]+)\.?,?\s+(\d{4})$"
)
_MONTH_DAY_YEAR = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_PDF = re.compile(r"^D:(\d{4})(\d{2})(\d{2})")


def normalise_date(value: object) -> str:
    """`value` as `YYYY-MM-DD`; ValueError when it is not a date we can read."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip().strip("\"'").strip()
    if not text:
        raise ValueError("empty date")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    lowered = text.lower()
    for pattern, order in ((_DMY, "dmy"), (_PDF, "ymd")):
        match = pattern.match(text)
        if match:
            a, b, c = (int(g) for g in match.groups())
            day, month, year = (a, b, c) if order == "dmy" else (c, b, a)
            return dt.date(year, month, day).isoformat()
    match = _DAY_MONTH_YEAR.match(lowered)
    if match and match.group(2) in _MONTHS:
        day, month, year = int(match.group(1)), _MONTHS[match.group(2)], int(match.group(3))
        return dt.date(year, month, day).isoformat()
    match = _MONTH_DAY_YEAR.match(lowered)
    if match and match.group(1) in _MONTHS:
        day, month, year = int(match.group(2)), _MONTHS[match.group(1)], int(match.group(3))
        return dt.date(year, month, day).isoformat()
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    raise ValueError(f"unreadable date {text!r}")


def maybe_date(value: object) -> str | None:
    """`normalise_date`, or None for a missing or unreadable value (for optional metadata)."""
    if value is None or value == "":
        return None
    try:
        return normalise_date(value)
    except ValueError:
        return None
