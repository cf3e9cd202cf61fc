"""The abstention-threshold part of the evaluation report: newsrag re-run at each
`abstain_below` (the runner's `abstention_curve`), as a chart and a table."""

from __future__ import annotations

import base64
import math
from typing import Any

from eval.render import DASH as _DASH
from eval.render import as_float as _float
from eval.render import html_grid as _html_grid
from eval.render import md_table as _md_table
from eval.render import png_bytes as _png
from eval.render import pyplot as _pyplot

_CONFIGURED = " (configured)"

# Columns of the abstention-threshold table (the runner's `abstention_curve` points).
CURVE_LABELS: dict[str, str] = {
    "abstained": "abstained",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "false_abstention_rate": "false abstention rate",
    "answer_contains": "answer contains gold",
}


def _curve(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The abstention curve's points, or [] when the run had no unanswerable items."""
    curve: list[dict[str, Any]] = results.get("abstention_curve") or []
    return curve


def abstention_png(results: dict[str, Any]) -> bytes | None:
    """Abstention precision against recall per threshold (left) and the rates against the
    threshold (right), the configured threshold highlighted; None when there is no curve."""
    curve = _curve(results)
    if not curve:
        return None
    plt = _pyplot()
    fig, (pr, rates) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    try:

        def column(key: str) -> list[float]:  # NaN (a gap in the line) for undefined values
            return [math.nan if (v := _float(p.get(key))) is None else v for p in curve]

        ts, recall = column("threshold"), column("abstention_recall")
        precision = column("abstention_precision")
        pr.plot(recall, precision, "o-", color="tab:blue")
        for point, t, x, y in zip(curve, ts, recall, precision, strict=True):
            if point.get("configured"):
                pr.plot([x], [y], "*", color="tab:red", markersize=16, label=f"configured {t:.2f}")
                rates.axvline(t, color="tab:red", linestyle="--", label=f"configured ({t:.2f})")
            if not math.isnan(x + y):
                pr.annotate(f"{t:.2f}", (x, y), textcoords="offset points", xytext=(5, 5), size=7)
        for key in ("abstention_recall", "false_abstention_rate", "answer_contains"):
            rates.plot(ts, column(key), "o-", ms=3, label=CURVE_LABELS[key])
        pr.set(
            xlabel="abstention recall",
            ylabel="abstention precision",
            title="precision / recall by threshold",
        )
        rates.set(xlabel="abstain_below", ylabel="rate (0–1)", title="rates by threshold")
        for ax in (pr, rates):
            ax.set_ylim(-0.02, 1.05)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small", loc="lower left" if ax is pr else "best")
        pr.set_xlim(-0.02, 1.05)
        fig.suptitle(f"newsrag abstention threshold — {results.get('dataset', '?')}")
        return _png(fig)
    finally:
        plt.close(fig)


def _curve_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the threshold table, shared by Markdown and HTML."""
    rows: list[list[str]] = []
    for point in _curve(results):
        t = _float(point.get("threshold"))
        cells = [
            (_DASH if t is None else f"{t:.2f}") + (_CONFIGURED * bool(point.get("configured")))
        ]
        for key in CURVE_LABELS:
            v = _float(point.get(key))
            cells.append(_DASH if v is None else f"{v:.0f}" if key == "abstained" else f"{v:.2f}")
        rows.append(cells)
    return ["abstain_below", *CURVE_LABELS.values()], rows


def abstention_table_markdown(results: dict[str, Any]) -> str:
    """The threshold table in Markdown under its own heading; "" when there is no curve."""
    header, rows = _curve_rows(results)
    return f"## Abstention threshold (newsrag)\n\n{_md_table(header, rows)}" if rows else ""


def abstention_section(results: dict[str, Any], png: bytes | None) -> str:
    """The threshold chart and table; "" when the run has no curve (no unanswerable items)."""
    header, rows = _curve_rows(results)
    if not rows:
        return ""
    image = ""
    if png:
        data = base64.b64encode(png).decode("ascii")
        image = f'<img src="data:image/png;base64,{data}" alt="abstention precision and recall">'
    return f"""<h2>Abstention threshold</h2>
<p>newsrag re-run at each <code>abstain_below</code> (the least share of the question's weight
a sentence must hold to be an answer); other abstentions (names absent from the articles, a
missing answer type) do not depend on it.</p>
{image}
{_html_grid(header, rows)}
"""
