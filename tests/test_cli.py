"""The `newsrag` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from rag.service import NewsQA
from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.integration
NEWSRAG = str(Path(os.sys.executable).parent / "newsrag")  # type: ignore[attr-defined]


def run(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "NEWSRAG_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [NEWSRAG, *args], capture_output=True, text=True, env=environ, cwd=ROOT, timeout=300
    )


def test_ask_json_is_the_api_json(seeded: NewsQA, seeds_data_dir: Path) -> None:
    done = run("ask", "Chi è il portavoce del Cremlino?", "--json", data_dir=seeds_data_dir)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    expected = seeded.ask("Chi è il portavoce del Cremlino?").model_dump()
    assert body == json.loads(json.dumps(expected))
    assert "Peskov" in body["answer"]


def test_ingest_summary_and_if_empty(tmp_path: Path) -> None:
    first = run("ingest", "--if-empty", str(SEEDS), data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 updated, 0 unchanged, 0 skipped" in first.stdout
    # The BM25 index is built and saved now, not by the next `serve` before it answers.
    assert "BM25 index saved" in first.stdout and any((tmp_path / "lexical").iterdir())
    second = run("ingest", "--if-empty", str(SEEDS), data_dir=tmp_path)
    assert "nothing ingested" in second.stdout
    again = run("ingest", str(SEEDS), data_dir=tmp_path)
    assert "0 added, 0 updated, 2 unchanged, 0 skipped" in again.stdout
    assert "BM25 index" not in again.stdout  # nothing changed, nothing to rebuild


def test_bad_file_is_reported_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x00")
    done = run("ingest", str(bad), data_dir=tmp_path / "data")
    assert done.returncode == 1 and "binary" in done.stderr


def test_missing_model_is_a_clear_startup_error(tmp_path: Path) -> None:
    done = run("ask", "Chi?", data_dir=tmp_path, NEWSRAG_EMBEDDING_MODEL=str(tmp_path / "no-model"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "NEWSRAG_EMBEDDING_MODEL" in done.stderr


def test_remove_deletes_an_article(tmp_path: Path) -> None:
    assert run("ingest", str(SEEDS), data_dir=tmp_path).returncode == 0
    done = run("remove", "001_526304c45c6c8f07", "nope", data_dir=tmp_path)
    assert done.returncode == 1
    assert "deleted   001_526304c45c6c8f07" in done.stdout and "not found nope" in done.stdout
    assert "BM25 index saved" in done.stdout
    answer = json.loads(
        run("ask", "Chi è il portavoce del Cremlino?", "--json", data_dir=tmp_path).stdout
    )
    assert all(c["doc_id"] != "001_526304c45c6c8f07" for c in answer["citations"])
    assert all(s["doc_id"] != "001_526304c45c6c8f07" for s in answer["sources"])
    # By the file it came from, through the old name `delete`.
    by_path = run("delete", str(SEEDS / "000_8a743153ebfc5c65.txt"), data_dir=tmp_path)
    assert by_path.returncode == 0 and "deleted" in by_path.stdout
    health = run("ingest", "--if-empty", str(SEEDS), data_dir=tmp_path)
    assert "2 added" in health.stdout  # the store was empty again


def test_mixed_folder_stores_the_good_files_and_exits_1(tmp_path: Path) -> None:
    from tests.test_ingest import BAD_SOURCES, write_mixed_folder

    write_mixed_folder(tmp_path / "in")
    done = run("ingest", str(tmp_path / "in"), data_dir=tmp_path / "data",
               NEWSRAG_MAX_FILE_BYTES="100000")  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "5 added, 0 updated, 0 unchanged, 8 skipped" in done.stdout
    for source in BAD_SOURCES:
        assert f"skipped   {source}:" in done.stderr
