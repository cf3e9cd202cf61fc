"""`newsrag`: ingest, ask, serve and eval — each parses input, calls `NewsQA`, prints."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from rag.errors import NewsragError
from rag.settings import Settings, load_settings

if TYPE_CHECKING:
    from rag.service import NewsQA

app = typer.Typer(
    help="Questions about news articles, answered with cited quotes.", no_args_is_help=True
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _service(settings: Settings | None = None) -> NewsQA:
    """The service, imported late so `newsrag --help` stays instant."""
    from rag.service import NewsQA

    return NewsQA.from_settings(settings or load_settings())


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="article files or folders (recursive)")],
    if_empty: Annotated[bool, typer.Option(help="only when the store has no articles")] = False,
) -> None:
    """Add or update articles; unchanged files are left alone.

    Exit code 0 when every file was ingested (or was unchanged or a duplicate), 1 when
    any file or JSONL line was skipped (the rest is still stored), 2 on a setup error.
    """
    service = _service()
    if if_empty and not service.is_empty():
        out.print("the store already has articles: nothing ingested (--if-empty)")
        return
    report = service.ingest(paths, progress=True)
    for doc_id in report.added:
        out.print(f"[green]added[/]     {doc_id}")
    for doc_id in report.updated:
        out.print(f"[yellow]updated[/]   {doc_id}")
    for doc_id in report.unchanged:
        out.print(f"[dim]unchanged[/] {doc_id}")
    for problem in report.skipped:
        err.print(f"[red]skipped[/]   {problem}")
    for dup in report.duplicates:
        out.print(f"[dim]duplicate[/] {dup.doc_id} ({dup.source}) of {dup.of}, not indexed")
    out.print(report.summary())
    if report.changed:
        _save_lexical_index(service)
    if report.failed:  # exit code 1: something was skipped; everything else was stored
        raise typer.Exit(1)


def _save_lexical_index(service: NewsQA) -> None:
    """The write changed the BM25 index in place and saved it (rag.retrieval.lexical_store),
    so that the next `newsrag serve` loads it; this checks it is in step with the store."""
    started = time.perf_counter()
    service.lexical.refresh()
    out.print(f"BM25 index saved ({time.perf_counter() - started:.1f} s)")


@app.command()
def remove(
    targets: Annotated[
        list[str], typer.Argument(help="article ids, or files whose articles to remove")
    ],
) -> None:
    """Remove articles and every one of their chunks (exit code 1 if one was not found)."""
    service = _service()
    missing = [t for t in targets if not service.remove(t)]
    for target in targets:
        out.print(f"{'not found' if target in missing else 'deleted':9} {target}")
    if len(missing) < len(targets):
        _save_lexical_index(service)
    if missing:
        raise typer.Exit(1)


app.command("delete", help="Same as `remove`.", hidden=True)(remove)


@app.command()
def reindex() -> None:
    """Re-embed every stored article with the configured embedding model, then switch.

    Needs no source files. Interrupted (Ctrl-C, a kill), the old store stays whole and
    usable with the old model; running it again resumes where it stopped.
    """
    service = _service()
    try:
        report = service.reindex(progress=True)
    except KeyboardInterrupt:
        err.print("interrupted: run `newsrag reindex` again to resume where it stopped")
        raise typer.Exit(130) from None
    out.print(report.summary())
    if report.switched:
        _save_lexical_index(service)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question, in Italian or English")],
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="sources to return")] = 4,
) -> None:
    """Answer one question from the command line."""
    answer = _service().ask(question, top_k=top_k)
    if as_json:
        typer.echo(json.dumps(answer.model_dump(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.answer)
    for c in answer.citations:
        when = f", {c.date}" if c.date else ""
        typer.echo(f"  [{c.n}] {c.title}{when} ({c.source} {c.start}-{c.end})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default NEWSRAG_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default NEWSRAG_PORT or 7860")] = None,
) -> None:
    """Serve the chat UI at / and the API at /api/v1 (docs at /docs)."""
    import uvicorn

    from rag.http.app import create_app
    from rag.http.malloc import limit_arenas

    settings = load_settings()
    limit_arenas(settings.malloc_arenas)  # before the server's threads start
    service = _service(settings)
    service.warm_up()
    service.watch_store()  # other processes' writes to the same Chroma, within a second or so
    host, port = host or settings.host, port or settings.port
    out.print(f"newsrag: chat at http://{host}:{port}/ · API docs at http://{host}:{port}/docs")
    # On SIGTERM uvicorn stops accepting and lets requests in flight (an upload) finish; it
    # then raises the signal again, so nothing after run() runs: close at the app's shutdown.
    web = create_app(service)
    web.router.on_shutdown.append(service.close)
    uvicorn.run(web, host=host, port=port, log_level="info")


@app.command("eval")
def evaluate(
    dataset: Annotated[
        str, typer.Option(help="seeds, seeds-blind, squad-it, an eval/data set or a JSONL file")
    ] = "seeds",
    limit: Annotated[int | None, typer.Option(min=1, help="evaluate a random sample")] = None,
    sample_seed: Annotated[int, typer.Option(help="seed of the random sample")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="where the report goes")] = Path(
        "eval-results"
    ),
    corpus: Annotated[
        Path | None, typer.Option(help="articles for a JSONL dataset (default: the store)")
    ] = None,
    baselines: Annotated[bool, typer.Option(help="also run the baselines")] = True,
) -> None:
    """Measure retrieval, answers, citations and abstention, next to the baselines."""
    import tempfile

    from eval.datasets import load_set, sample
    from eval.report import metrics_table_markdown, write_report
    from eval.runner import evaluate as run_evaluation

    settings = load_settings()
    evalset = load_set(dataset, corpus)
    items = sample(evalset.items, limit, sample_seed)
    with tempfile.TemporaryDirectory(prefix="newsrag-eval-") as tmp:
        if evalset.articles:  # a corpus of its own: a fresh store, not the user's
            settings = settings.model_copy(update={"data_dir": Path(tmp)})
        results = run_evaluation(_service(settings), evalset, items, baselines)
    paths = write_report(results, out_dir)
    out.print(metrics_table_markdown(results))
    out.print(f"report: {paths['report']} · figures: {paths['results']}")


def main() -> None:
    """Console entry point: user-facing errors become one clear line and exit code 2."""
    try:
        app()
    except NewsragError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from None
