"""`POST /api/v1/ask`: a question answered with verbatim, cited quotes, as one JSON reply."""

from __future__ import annotations

from fastapi import APIRouter

from rag.answering.extractive import Answer
from rag.answering.streaming import AnswerWithNotice
from rag.http.deps import AskRequest, ServiceDep, ask_arguments

router = APIRouter(tags=["questions"])


@router.post("/api/v1/ask", response_model=AnswerWithNotice)
def ask(body: AskRequest, svc: ServiceDep) -> Answer:
    """Answer a question about the articles, with citations to verbatim quotes."""
    return svc.ask(body.question, **ask_arguments(body))
