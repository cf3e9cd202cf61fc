"""Settings are validated at start-up with messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.service import NewsQA
from rag.settings import load_settings
from vectorstore.embeddings import bundled_model_path, check_model_folder


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().top_k == 4
    monkeypatch.setenv("NEWSRAG_TOP_K", "7")
    assert load_settings().top_k == 7


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRAG_DENSE_WEIGHT", "2")
    with pytest.raises(ConfigError, match="NEWSRAG_DENSE_WEIGHT"):
        load_settings()


def test_model_folder_checks(tmp_path: Path) -> None:
    assert (check_model_folder(bundled_model_path()) / "modules.json").is_file()
    with pytest.raises(ConfigError, match="does not exist"):
        check_model_folder(tmp_path / "missing")
    with pytest.raises(ConfigError, match="not a sentence-transformers model folder"):
        check_model_folder(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        NewsQA.from_settings(load_settings(embedding_model=tmp_path / "missing"))


def test_building_a_service_does_no_io(tmp_path: Path) -> None:
    NewsQA.from_settings(load_settings(data_dir=tmp_path / "data"))
    assert not (tmp_path / "data").exists()
