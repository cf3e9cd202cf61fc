"""Small rendering helpers shared by the evaluation report modules (pure, no I/O)."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

DASH = "–"  # a missing or undefined figure


def as_float(raw: object) -> float | None:
    """A figure as float, or None when missing/undefined, so callers need one check only."""
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless; selected here so importing this module stays cheap
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---", *("---:" for _ in header[1:])]
    return "\n".join([line(header), line(align), *(line(r) for r in rows)]) + "\n"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr><th>" + esc(r[0]) + "</th>" + "".join(f"<td>{esc(c)}</td>" for c in r[1:]) + "</tr>"
        for r in rows
    )
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
