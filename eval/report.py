"""Render an evaluation run (the runner's `results` dict) as a chart, a Markdown table and HTML.

Everything except `write_report` is a pure function from data to str/bytes, so the report can
be tested without touching disk. The HTML is self-contained (inline CSS, chart as a data URI)
so it can be opened offline or attached anywhere.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.abstention_report import (
    CURVE_LABELS,
    abstention_png,
    abstention_section,
    abstention_table_markdown,
)
from eval.render import DASH as _DASH
from eval.render import as_float as _float
from eval.render import esc as _esc
from eval.render import html_grid as _html_grid
from eval.render import md_table as _md_table
from eval.render import png_bytes as _png
from eval.render import pyplot as _pyplot

__all__ = [
    "CURVE_LABELS",
    "LATENCY_LABELS",
    "METRIC_LABELS",
    "abstention_png",
    "abstention_table_markdown",
    "chart_png",
    "failures",
    "metrics_table_markdown",
    "report_html",
    "write_report",
]

# Ratio metrics in [0, 1], in display order (retrieval, answers, citations, abstention, dialogue).
METRIC_LABELS: dict[str, str] = {
    "hit@1": "hit@1",
    "hit@4": "hit@4",
    "hit@10": "hit@10",
    "mrr": "MRR",
    "answer_contains": "answer contains gold",
    "token_f1": "token F1",
    "citation_validity": "citation validity",
    "citation_precision": "citation precision",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "false_abstention_rate": "false abstention rate",
    "followup_accuracy": "follow-up accuracy",
    "span_rate": "answers with a marked span",
    "span_contains": "span contains gold",
    "span_exact": "span exact match",
    "span_f1": "span token F1",
    "span_answer_contains": "answer contains gold (same items)",
}

# Latencies are milliseconds, not ratios: they go in the table but never in the 0-1 chart.
LATENCY_LABELS: dict[str, str] = {
    "latency_p50_ms": "latency p50",
    "latency_p95_ms": "latency p95",
}
# Other quantities, shown as they are.
COUNT_LABELS: dict[str, str] = {"span_chars": "mean span length (characters)"}

# Settings worth repeating in the one-line summary; the full dict is shown below it.
_KEY_SETTINGS = (
    "top_k",
    "chunk_tokens",
    "chunk_overlap",
    "candidates",
    "dense_weight",
    "answer_sentences",
    "abstain_below",
)

_NOT_FOUND = "not in top 10"


def _systems(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    systems: dict[str, dict[str, Any]] = results.get("systems") or {}
    return systems


def _label(name: str, system: dict[str, Any]) -> str:
    return str(system.get("label") or name)


def _value(system: dict[str, Any], key: str) -> float | None:
    return _float((system.get("metrics") or {}).get(key))


def _present(results: dict[str, Any], keys: Sequence[str]) -> list[str]:
    """Keys with a value for at least one system: all-empty rows/groups are just noise."""
    systems = _systems(results).values()
    return [k for k in keys if any(_value(s, k) is not None for s in systems)]


def chart_png(results: dict[str, Any]) -> bytes:
    """Grouped bars (one group per ratio metric, one bar per system) as PNG bytes."""
    plt = _pyplot()
    keys = _present(results, list(METRIC_LABELS))
    systems = _systems(results)
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    try:
        width = 0.8 / max(len(systems), 1)
        for i, (name, system) in enumerate(systems.items()):
            xs: list[float] = []
            ys: list[float] = []
            for j, key in enumerate(keys):
                value = _value(system, key)
                if value is not None:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    ys.append(value)
            ax.bar(xs, ys, width=width, label=_label(name, system))
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([METRIC_LABELS[k] for k in keys], rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("score (0–1)")
        ax.set_title(f"newsrag evaluation — {results.get('dataset', '?')}")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if not keys:
            ax.text(0.5, 0.5, "no metrics", ha="center", va="center", transform=ax.transAxes)
        if systems:
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(fig)
    finally:
        plt.close(fig)


def _table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows shared by the Markdown and HTML tables, so they agree."""
    systems = _systems(results)
    header = ["metric", *(_label(n, s) for n, s in systems.items())]
    rows: list[list[str]] = []
    for key in _present(results, list(METRIC_LABELS)):
        cells = [_value(s, key) for s in systems.values()]
        rows.append([METRIC_LABELS[key], *(_DASH if v is None else f"{v:.2f}" for v in cells)])
    for key in _present(results, list(LATENCY_LABELS)):
        cells = [_value(s, key) for s in systems.values()]
        rows.append([LATENCY_LABELS[key], *(_DASH if v is None else f"{v:.0f} ms" for v in cells)])
    for key in _present(results, list(COUNT_LABELS)):
        cells = [_value(s, key) for s in systems.values()]
        rows.append([COUNT_LABELS[key], *(_DASH if v is None else f"{v:.1f}" for v in cells)])
    return header, rows


def metrics_table_markdown(results: dict[str, Any]) -> str:
    """Metrics x systems as a Markdown table (the one the README shows)."""
    return _md_table(*_table(results))


def failures(
    results: dict[str, Any], system: str = "newsrag", limit: int = 200
) -> list[dict[str, Any]]:
    """Failing records of one system, in record order, capped so the HTML stays readable."""
    return _failed(results, system)[: max(limit, 0)]


def _failed(results: dict[str, Any], system: str) -> list[dict[str, Any]]:
    records = (results.get("records") or {}).get(system) or []
    return [r for r in records if r.get("failure") is not None]


def _ours(results: dict[str, Any]) -> str:
    """Our system's key: "newsrag" when present, else the first system (ours comes first)."""
    systems = _systems(results)
    if "newsrag" in systems or not systems:
        return "newsrag"
    return next(iter(systems))


def _html_table(results: dict[str, Any]) -> str:
    return _html_grid(*_table(results))


def _failure_row(rec: dict[str, Any]) -> str:
    """One failed question; every piece of data text is escaped (articles contain < " «)."""
    history = "".join(
        f'<div class="hist"><b>{_esc(t.get("role", ""))}:</b> {_esc(t.get("content", ""))}</div>'
        for t in rec.get("history") or []
    )
    gold = rec.get("gold_answers") or []
    if gold:
        gold_html = "<ul>" + "".join(f"<li>{_esc(g)}</li>" for g in gold) + "</ul>"
    else:
        gold_html = '<span class="muted">(unanswerable)</span>'
    answer = _esc(rec.get("answer", ""))
    if rec.get("abstained"):
        text = f'<br><span class="muted">{answer}</span>' if answer else ""
        answer = f'<em class="abst">abstained</em>{text}'
    rank = rec.get("rank")
    chunks = "".join(
        f'<div class="chunk"><b>{_esc(c.get("title", ""))}</b> '
        f'<span class="muted">[{_esc(c.get("doc_id", ""))}]</span><br>{_esc(c.get("text", ""))}'
        "</div>"
        for c in rec.get("retrieved") or []
    )
    cells = [
        _esc(rec.get("id", "")),
        _esc(rec.get("type", "")),
        history + _esc(rec.get("question", "")),
        gold_html,
        answer,
        _NOT_FOUND if rank is None else _esc(rank),
        f'<span class="reason">{_esc(rec.get("failure", ""))}</span>',
        chunks,
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1300px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;text-align:left}
table.metrics td{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f2f2f2}
img{max-width:100%;height:auto}
.muted,.hist{color:#666;font-size:.8rem}.hist{margin-bottom:.2rem}
.abst{color:#a15c00;font-weight:bold}.reason{color:#b00020}
.chunk{font-size:.8rem;margin-bottom:.4rem}
code{font-size:.8rem}
"""


def report_html(
    results: dict[str, Any], png: bytes, *, limit: int = 200, abstention: bytes | None = None
) -> str:
    """The whole report as one self-contained HTML page (no external requests);
    `abstention` is the threshold chart (`abstention_png`), shown with its table."""
    dataset = _esc(results.get("dataset", "?"))
    settings: dict[str, Any] = results.get("settings") or {}
    key_settings = [f"{k}={settings[k]}" for k in _KEY_SETTINGS if k in settings]
    summary = (
        f"{_esc(results.get('items', '?'))} items · created {_esc(results.get('created', '?'))}"
    )
    if key_settings:
        summary += " · " + _esc(", ".join(key_settings))
    all_settings = ", ".join(f"{k}={v}" for k, v in settings.items())
    versions = ", ".join(f"{k} {v}" for k, v in (results.get("versions") or {}).items())

    ours = _ours(results)
    ours_label = _label(ours, _systems(results).get(ours, {}))
    total = len(_failed(results, ours))
    shown = failures(results, ours, limit=limit)
    count = f"{total} failed question{'s' if total != 1 else ''} for {_esc(ours_label)}"
    if len(shown) < total:
        count += f" (table truncated: showing the first {len(shown)})"
    columns = [
        "id",
        "type",
        "question",
        "gold answers",
        "our answer",
        "rank of gold evidence",
        "failure reason",
        "top retrieved chunks",
    ]
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(_failure_row(r) for r in shown)
    image = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>newsrag evaluation — {dataset}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>newsrag evaluation — {dataset}</h1>
<p>{summary}</p>
<p class="muted">settings: <code>{_esc(all_settings) or _DASH}</code><br>
versions: <code>{_esc(versions) or _DASH}</code></p>
<img src="data:image/png;base64,{image}" alt="metrics per system">
<h2>Metrics</h2>
{_html_table(results)}
<p class="muted">Latencies were measured in the same run on the same machine for every system,
so they compare the systems with each other, not with other hardware.</p>
{abstention_section(results, abstention)}<h2>Failed questions</h2>
<p>{count}</p>
<table class="failures"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
</body>
</html>
"""


def write_report(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write results.json, chart.png, report.html and metrics.md, plus abstention.png when
    the run has an abstention curve; the only function with I/O."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = chart_png(results)
    curve_png = abstention_png(results)
    paths = {
        "results": out_dir / "results.json",
        "chart": out_dir / "chart.png",
        "report": out_dir / "report.html",
        "metrics": out_dir / "metrics.md",
    }
    text = json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n"
    paths["results"].write_text(text, encoding="utf-8")
    paths["chart"].write_bytes(png)
    if curve_png is not None:
        paths["abstention"] = out_dir / "abstention.png"
        paths["abstention"].write_bytes(curve_png)
    page = report_html(results, png, abstention=curve_png)
    paths["report"].write_text(page, encoding="utf-8")
    curve_md = abstention_table_markdown(results)
    markdown = metrics_table_markdown(results) + (f"\n{curve_md}" if curve_md else "")
    paths["metrics"].write_text(markdown, encoding="utf-8")
    return paths
