"""The short form of the load test (`make bench` runs the 60-second one): 20 concurrent
clients on `/api/v1/ask` of the live server for 10 s, zero errors; p50/p95 are written to
test-artifacts/load/ next to a one-client baseline from the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import markdown, run_load, write_report

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "load"


def test_twenty_clients_for_ten_seconds_without_errors(live_server: str) -> None:
    report = run_load(live_server, clients=20, seconds=10)
    write_report(report, ARTIFACTS)
    load, baseline = report["load"], report["baseline"]
    assert isinstance(load, dict) and isinstance(baseline, dict)
    assert load["errors"] == 0, load["error_samples"]
    assert baseline["errors"] == 0, baseline["error_samples"]
    assert load["requests"] >= 20  # every client got answers, not just one
    assert 0 < load["p50_ms"] <= load["p95_ms"]
    assert (ARTIFACTS / "load.json").is_file()
    print(markdown(report))
