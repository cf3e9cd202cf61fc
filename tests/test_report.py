"""eval.report on a small hand-made run: formats, escaping, truncation and the written files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from eval.report import (
    METRIC_LABELS,
    abstention_png,
    abstention_table_markdown,
    chart_png,
    failures,
    metrics_table_markdown,
    report_html,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OURS = "newsrag (hybrid + extractive)"
BASE = "plain BM25"


def _record(rid: str, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": rid,
        "question": "Chi ha vinto le elezioni?",
        "history": [],
        "type": "factoid",
        "answerable": True,
        "gold_answers": ["Mario Rossi"],
        "answer": "Mario Rossi ha vinto [1].",
        "abstained": False,
        "rank": 1,
        "correct": True,
        "f1": 1.0,
        "citations_valid": True,
        "latency_ms": 12.0,
        "retrieved": [{"doc_id": "d1", "title": "Elezioni", "text": "Mario Rossi ha vinto."}],
        "failure": None,
    }
    record.update(overrides)
    return record


@pytest.fixture
def results() -> dict[str, Any]:
    ours_metrics: dict[str, float | None] = dict.fromkeys(METRIC_LABELS, 0.75)
    ours_metrics |= {"hit@1": 0.5, "followup_accuracy": None}
    ours_metrics |= {"latency_p50_ms": 12.4, "latency_p95_ms": 30.0}
    base_metrics: dict[str, float | None] = dict.fromkeys(METRIC_LABELS, None)
    base_metrics |= {"hit@1": 0.25, "hit@4": 0.5, "mrr": 0.4}
    base_metrics |= {"latency_p50_ms": 3.0, "latency_p95_ms": None}
    records = [
        _record("q1"),
        _record(
            "q2",
            type="followup",
            history=[
                {"role": "user", "content": "Chi è il sindaco di Roma?"},
                {"role": "assistant", "content": "Il sindaco è Gualtieri [1]."},
            ],
            question="E quando è stato eletto?",
            gold_answers=["2021"],
            answer="Nel 2016.",
            rank=None,
            correct=False,
            f1=0.0,
            failure="wrong answer",
        ),
        _record(
            "q3",
            question='Cosa dice l\'articolo su «<script>alert("x")</script>»?',
            answerable=False,
            gold_answers=[],
            answer='Secondo il testo, «<b>nulla</b>» & "altro" [1].',
            rank=3,
            retrieved=[
                {"doc_id": "d9", "title": "«Titolo»", "text": 'Testo <script>alert("x")</script>'}
            ],
            failure="missed abstention",
        ),
        _record("q4", abstained=True, answer="", correct=False, failure="abstained on answerable"),
    ]
    return {
        "dataset": "seeds",
        "created": "2026-11-21T10:00:00Z",
        "items": 4,
        "settings": {"top_k": 4, "dense_weight": 0.3, "collection_prefix": "newsrag"},
        "versions": {"newsrag": "0.1.0"},
        "systems": {
            "newsrag": {"label": OURS, "metrics": ours_metrics},
            "bm25_plain": {"label": BASE, "metrics": base_metrics},
        },
        "records": {"newsrag": records, "bm25_plain": [_record("q1", failure="wrong answer")]},
    }


def _point(
    threshold: float, abstained: int, precision: float | None, **more: Any
) -> dict[str, Any]:
    return {
        "threshold": threshold,
        "configured": False,
        "abstained": abstained,
        "abstention_precision": precision,
        "abstention_recall": 0.5 if abstained else 0.0,
        "false_abstention_rate": 0.1 * abstained,
        "answer_contains": 0.8,
        **more,
    }


@pytest.fixture
def curve_results(results: dict[str, Any]) -> dict[str, Any]:
    """The run above with an abstention curve; at 0.0 nothing abstained (precision undefined)."""
    results["abstention_curve"] = [
        _point(0.0, 0, None),
        _point(0.1, 2, 0.5, configured=True),
        _point(0.2, 4, 0.25, abstention_recall=1.0, answer_contains=None),
    ]
    return results


def test_chart_png_is_a_png(results: dict[str, Any]) -> None:
    png = chart_png(results)
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5_000  # a real chart, not an empty canvas


def test_chart_png_without_metrics_still_renders() -> None:
    empty = {"dataset": "x", "systems": {"a": {"label": "A", "metrics": {"hit@1": None}}}}
    assert chart_png(empty).startswith(PNG_SIGNATURE)


def test_markdown_table_formats(results: dict[str, Any]) -> None:
    table = metrics_table_markdown(results)
    lines = table.splitlines()
    assert lines[0] == f"| metric | {OURS} | {BASE} |"
    assert lines[1].startswith("| ---")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["hit@1"] == "| hit@1 | 0.50 | 0.25 |"
    assert rows["answer contains gold"] == "| answer contains gold | 0.75 | – |"
    assert rows["latency p50"] == "| latency p50 | 12 ms | 3 ms |"
    assert rows["latency p95"] == "| latency p95 | 30 ms | – |"
    # a metric undefined for every system is left out rather than shown as a row of dashes
    assert "follow-up accuracy" not in rows


def test_markdown_table_escapes_pipes(results: dict[str, Any]) -> None:
    results["systems"]["bm25_plain"]["label"] = "BM25 | plain"
    assert "| BM25 \\| plain |" in metrics_table_markdown(results).splitlines()[0]


def test_failures_only_failing_in_order(results: dict[str, Any]) -> None:
    assert [r["id"] for r in failures(results)] == ["q2", "q3", "q4"]
    assert [r["id"] for r in failures(results, limit=2)] == ["q2", "q3"]
    assert failures(results, limit=0) == []
    assert [r["id"] for r in failures(results, system="bm25_plain")] == ["q1"]
    assert failures(results, system="missing") == []


def test_report_html_content_and_escaping(results: dict[str, Any]) -> None:
    png = chart_png(results)
    page = report_html(results, png)
    assert "<title>newsrag evaluation — seeds</title>" in page
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert "<script" not in page  # nothing from the data reaches the page unescaped
    assert "&lt;script&gt;" in page
    assert "wrong answer" in page and "missed abstention" in page
    assert "not in top 10" in page  # q2 has rank None
    assert "Chi è il sindaco di Roma?" in page  # history shown with the follow-up
    assert "3 failed questions" in page and "truncated" not in page
    assert "same run on the same machine" in page
    assert "top_k=4" in page
    assert "<td>0.50</td>" in page and "<td>12 ms</td>" in page and "<td>–</td>" in page
    assert 'class="abst"' in page  # q4's abstention is labelled
    assert "<td>3</td>" in page  # q3's rank
    assert "http://" not in page and "https://" not in page  # self-contained


def test_report_html_escapes_every_field(results: dict[str, Any]) -> None:
    page = report_html(results, b"\x89PNG")
    assert "«&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;»" in page  # question
    assert "Testo &lt;script&gt;" in page  # retrieved chunk
    assert "«&lt;b&gt;nulla&lt;/b&gt;» &amp; &quot;altro&quot;" in page  # our answer
    assert "<b>nulla</b>" not in page


def test_report_html_hides_passing_records(results: dict[str, Any]) -> None:
    results["records"]["newsrag"][2]["failure"] = None
    page = report_html(results, b"\x89PNG")
    assert "&lt;script&gt;" not in page  # q3 now passes, so its row is gone
    assert "2 failed questions" in page


def test_report_html_says_when_truncated(results: dict[str, Any]) -> None:
    page = report_html(results, b"\x89PNG", limit=1)
    assert "3 failed questions" in page
    assert "showing the first 1" in page
    assert "abstained on answerable" not in page  # q4 is past the limit


def test_write_report_writes_four_files(results: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "run" / "seeds"
    paths = write_report(results, out)
    assert {p.name for p in paths.values()} == {
        "results.json",
        "chart.png",
        "report.html",
        "metrics.md",
    }  # no abstention curve in these results, so no abstention.png
    assert not (out / "abstention.png").exists()
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths.values())
    with paths["results"].open(encoding="utf-8") as fh:
        assert json.load(fh) == results
    assert "«<script>" in paths["results"].read_text(encoding="utf-8")  # ensure_ascii=False
    assert paths["chart"].read_bytes().startswith(PNG_SIGNATURE)
    assert paths["metrics"].read_text(encoding="utf-8") == metrics_table_markdown(results)
    assert "&lt;script&gt;" in paths["report"].read_text(encoding="utf-8")


def test_abstention_png(curve_results: dict[str, Any], results: dict[str, Any]) -> None:
    png = abstention_png(curve_results)
    assert png is not None and png.startswith(PNG_SIGNATURE) and len(png) > 5_000
    assert abstention_png({"dataset": "x", "abstention_curve": []}) is None
    del curve_results["abstention_curve"]
    assert abstention_png(curve_results) is None


def test_abstention_table_markdown(curve_results: dict[str, Any]) -> None:
    lines = abstention_table_markdown(curve_results).splitlines()
    assert lines[0] == "## Abstention threshold (newsrag)"
    assert lines[2] == (
        "| abstain_below | abstained | abstention precision | abstention recall "
        "| false abstention rate | answer contains gold |"
    )
    assert lines[4:] == [
        "| 0.00 | 0 | – | 0.00 | 0.00 | 0.80 |",
        "| 0.10 (configured) | 2 | 0.50 | 0.50 | 0.20 | 0.80 |",
        "| 0.20 | 4 | 0.25 | 1.00 | 0.40 | – |",
    ]
    del curve_results["abstention_curve"]
    assert abstention_table_markdown(curve_results) == ""


def test_report_html_abstention_section(curve_results: dict[str, Any]) -> None:
    curve_png = abstention_png(curve_results)
    assert curve_png is not None
    page = report_html(curve_results, b"\x89PNG", abstention=curve_png)
    assert "<h2>Abstention threshold</h2>" in page
    assert f'src="data:image/png;base64,{base64.b64encode(curve_png).decode()}"' in page
    assert "<th>0.10 (configured)</th><td>2</td><td>0.50</td>" in page
    assert "<th>0.20</th><td>4</td><td>0.25</td><td>1.00</td><td>0.40</td><td>–</td>" in page
    table_only = report_html(curve_results, b"\x89PNG")  # no chart given: the table alone
    assert "<th>0.10 (configured)</th>" in table_only and 'alt="abstention' not in table_only
    del curve_results["abstention_curve"]
    assert "Abstention threshold" not in report_html(curve_results, b"\x89PNG")


def test_write_report_with_curve(curve_results: dict[str, Any], tmp_path: Path) -> None:
    paths = write_report(curve_results, tmp_path)
    assert paths["abstention"] == tmp_path / "abstention.png"
    assert paths["abstention"].read_bytes() == abstention_png(curve_results)
    markdown = paths["metrics"].read_text(encoding="utf-8")
    table = abstention_table_markdown(curve_results)
    assert markdown == metrics_table_markdown(curve_results) + "\n" + table
    html = paths["report"].read_text(encoding="utf-8")
    assert "<h2>Abstention threshold</h2>" in html and html.count("data:image/png;base64,") == 2
