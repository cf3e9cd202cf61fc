"""schemathesis against the app's own OpenAPI spec: no generated input, valid (positive) or
invalid (negative), gets a 5xx. Hypothesis draws each operation's cases from schemathesis'
strategies (its pytest plugin does not support this pytest), bounded to keep the run short."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from rag.http.app import create_app
from rag.service import NewsQA
from tests.conftest import SEEDS, make_service
from vectorstore.embeddings import LocalEmbedder

pytestmark = pytest.mark.integration

EXAMPLES_PER_MODE = 40


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> NewsQA:
    """Its own copy of the seeds: generated uploads and deletions must not touch the shared one."""
    service = make_service(tmp_path_factory.mktemp("fuzz-store"), embedder)
    service.ingest([SEEDS])
    return service


@pytest.fixture(scope="module")
def api_schema(fuzzed: NewsQA) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzzed, with_ui=False))


def operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    assert found, "the spec lists no operations"
    return found


def fuzzer(operation: Any, mode: GenerationMode) -> Any:
    """A Hypothesis test calling the app with generated cases of one operation."""

    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        case.call_and_validate(checks=[not_a_server_error])

    return fuzz


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(api_schema: Any, mode: GenerationMode) -> None:
    labels = []
    for operation in operations(api_schema):
        labels.append(operation.label)
        fuzzer(operation, mode)()
    assert {"POST /api/v1/ask", "GET /healthz", "POST /api/v1/documents"} <= set(labels)
