"""A bounded load test of `POST /api/v1/ask` on loopback: N concurrent asyncio clients for a
fixed time, after a one-client baseline measured in the same run.

While the clients run, a probe requests `/openapi.json` (an async route) every 100 ms: if
CPU-bound answering ran on the event loop, the probe's latency would grow with the load.

    python -m bench.load --serve --clients 20 --seconds 60 --out bench-results/load
    python -m bench.load --url http://127.0.0.1:7860 --clients 20 --seconds 10

`--serve` ingests the seed articles into a temporary store and starts `newsrag serve` on a
free loopback port for the run (stopped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.servers import free_port, stop, wait_until_up

QUESTIONS = [
    "Chi è il portavoce del Cremlino?",
    "Cosa ha detto Putin sulle truppe straniere in Ucraina?",
    "Quante nazioni hanno promesso garanzie di sicurezza all'Ucraina?",
    "Dove si trovano le truppe nordcoreane?",
    "Qual è la ricetta della carbonara?",  # an abstention is a valid answer too
    "Chi ha ringraziato Kim Jong-un?",
]
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Phase:
    """One timed phase: how many requests, how many failed, and their latencies."""

    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | list[str]]:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "error_samples": self.error_samples[:5],
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
            "p99_ms": percentile(self.latencies_ms, 99),
            "max_ms": round(max(self.latencies_ms), 1) if self.latencies_ms else 0.0,
            "loop_probe_p95_ms": percentile(self.probe_ms, 95),
        }


def percentile(values: Sequence[float], pct: int) -> float:
    """The `pct`th percentile (inclusive method), 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


async def _client(
    http: httpx.AsyncClient, phase: Phase, offset: int, deadline: float, headers: dict[str, str]
) -> None:
    i = offset
    while time.monotonic() < deadline:
        question = QUESTIONS[i % len(QUESTIONS)]
        i += 1
        started = time.perf_counter()
        try:
            response = await http.post("/api/v1/ask", json={"question": question}, headers=headers)
            ok = response.status_code == 200 and "answer" in response.json()
            problem = f"HTTP {response.status_code}: {response.text[:120]}"
        except (httpx.HTTPError, ValueError) as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        phase.requests += 1
        if not ok:
            phase.errors += 1
            phase.error_samples.append(problem)


async def _probe(http: httpx.AsyncClient, phase: Phase, deadline: float) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            await http.get("/openapi.json")
            phase.probe_ms.append((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as exc:
            phase.errors += 1
            phase.error_samples.append(f"probe: {exc}")
        await asyncio.sleep(0.1)


async def run_phase(url: str, clients: int, seconds: float, api_key: str | None = None) -> Phase:
    """`clients` concurrent clients asking questions for `seconds` seconds."""
    headers = {"X-API-Key": api_key} if api_key else {}
    # Idle connections expire on the client side (2 s) before uvicorn closes them (5 s):
    # with equal timeouts a request can go out on a socket the server is closing (ReadError).
    limits = httpx.Limits(
        max_connections=clients + 2, max_keepalive_connections=clients + 2, keepalive_expiry=2.0
    )
    phase = Phase(clients=clients, seconds=seconds)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            _probe(http, phase, deadline),
            *(_client(http, phase, n, deadline, headers) for n in range(clients)),
        )
        phase.seconds = time.monotonic() - started
    return phase


def run_load(
    url: str, clients: int = 20, seconds: float = 60.0, api_key: str | None = None
) -> dict[str, object]:
    """A one-client baseline (a quarter of the time, at least 2 s), then the load phase."""
    baseline = asyncio.run(run_phase(url, 1, max(2.0, seconds / 4), api_key))
    load = asyncio.run(run_phase(url, clients, seconds, api_key))
    b, lo = baseline.summary(), load.summary()
    ratio = {
        k: round(float(lo[k]) / float(b[k]), 2) if b[k] else None  # type: ignore[arg-type]
        for k in ("p50_ms", "p95_ms", "throughput_rps", "loop_probe_p95_ms")
    }
    return {
        "endpoint": "POST /api/v1/ask",
        "url": url,
        "cpu_count": os.cpu_count(),
        "baseline": b,
        "load": lo,
        "load_over_baseline": ratio,
    }


def markdown(report: dict[str, object]) -> str:
    b, lo = report["baseline"], report["load"]
    assert isinstance(b, dict) and isinstance(lo, dict)
    rows = [
        ("clients", "clients"),
        ("seconds", "seconds"),
        ("requests", "requests"),
        ("errors", "errors"),
        ("throughput (req/s)", "throughput_rps"),
        ("latency p50 (ms)", "p50_ms"),
        ("latency p95 (ms)", "p95_ms"),
        ("latency p99 (ms)", "p99_ms"),
        ("event-loop probe p95 (ms)", "loop_probe_p95_ms"),
    ]
    lines = [
        f"# Load test: {report['endpoint']} on loopback ({report['cpu_count']} cores)",
        "",
        "| | baseline (1 client) | load |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {b[key]} | {lo[key]} |" for name, key in rows),
        "",
        f"Load over baseline: {report['load_over_baseline']}",
    ]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "load.md").write_text(markdown(report), encoding="utf-8")


@contextmanager
def served_seeds() -> Iterator[str]:
    """`newsrag serve` over the seed articles in a temporary store; yields its URL."""
    newsrag = str(Path(sys.executable).with_name("newsrag"))
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "NEWSRAG_DATA_DIR": data, "NEWSRAG_API_KEY": ""}
        subprocess.run([newsrag, "ingest", str(ROOT / "seeds")], env=env, check=True)
        port = free_port()
        server = subprocess.Popen(
            [newsrag, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/healthz", 120, server, interval=0.3)
            yield url
        finally:
            stop(server, 30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running newsrag server")
    target.add_argument("--serve", action="store_true", help="serve the seeds for the run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--api-key", default=os.environ.get("NEWSRAG_API_KEY") or None)
    parser.add_argument("--out", type=Path, default=Path("bench-results/load"))
    args = parser.parse_args(argv)
    if args.serve:
        with served_seeds() as url:
            report = run_load(url, args.clients, args.seconds, None)
    else:
        report = run_load(args.url, args.clients, args.seconds, args.api_key)
    write_report(report, args.out)
    print(markdown(report))
    load = report["load"]
    return 0 if isinstance(load, dict) and load["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
