"""LangChain's own standard retriever suite, run against `NewsQA.as_retriever()` over the
seeded store, as LangChain's integration packages run it against theirs."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.retrieval.hybrid import NewsRetriever
from rag.service import NewsQA

pytestmark = pytest.mark.integration


class TestNewsRetriever(RetrieversIntegrationTests):
    service: NewsQA

    @pytest.fixture(autouse=True)
    def _seeded_service(self, seeded: NewsQA) -> None:
        self.service = seeded

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return NewsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        # what NewsQA.as_retriever builds, so the suite checks the retriever users get
        return {"search": self.service.as_retriever().search, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Chi è il portavoce del Cremlino?"


def test_as_retriever_honours_k_per_call(seeded: NewsQA) -> None:
    """`invoke(query, k=1)` overrides the retriever's own `k` for that call only."""
    retriever = seeded.as_retriever(k=2)
    assert len(retriever.invoke("portavoce del Cremlino", k=1)) == 1
    assert len(retriever.invoke("portavoce del Cremlino")) == 2
