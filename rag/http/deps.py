"""What every route shares: the service dependency and the request and response models."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag.service import NewsQA


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        min_length=1, max_length=2_000, examples=["Chi è il portavoce del Cremlino?"]
    )
    history: list[Message] = Field(default_factory=list, max_length=50)
    top_k: int = Field(4, ge=1, le=20)
    date_from: dt.date | None = Field(
        None, description="only articles published on or after this date (YYYY-MM-DD)"
    )
    date_to: dt.date | None = Field(
        None, description="only articles published on or before this date (YYYY-MM-DD)"
    )

    @model_validator(mode="after")
    def ordered_dates(self) -> AskRequest:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to: swap them or widen the range")
        return self

    @field_validator("question")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty: ask something about the articles")
        return value


class Health(BaseModel):
    status: str
    documents: int
    chunks: int


def get_service(request: Request) -> NewsQA:
    service: NewsQA = request.app.state.service
    return service


ServiceDep = Annotated[NewsQA, Depends(get_service)]


def ask_arguments(body: AskRequest) -> dict[str, Any]:
    """The service's keyword arguments for a request (shared by the plain and streaming routes)."""
    return {
        "history": [m.model_dump() for m in body.history],
        "top_k": body.top_k,
        "date_from": body.date_from,
        "date_to": body.date_to,
    }
