"""The HTTP API (FastAPI): thin routes over one `NewsQA`, with the Gradio chat mounted at `/`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag import __version__
from rag.answer import Answer
from rag.errors import InputError, NewsragError
from rag.security import Unauthorized, require_api_key
from rag.service import NewsQA
from rag.streaming import AnswerWithNotice


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


def readable(exc: RequestValidationError) -> str:
    """One line per problem: `field: message`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


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


def create_app(service: NewsQA, with_ui: bool = True) -> FastAPI:
    """The API app for a ready service; the chat UI is mounted at `/` unless `with_ui=False`."""
    app = FastAPI(
        title="newsrag",
        version=__version__,
        description="Questions about news articles, answered with verbatim, cited quotes.",
        dependencies=[Depends(require_api_key)],  # enforced on /api/* and /v1/* when a key is set
    )
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details: Any = exc.errors()
        return JSONResponse(
            status_code=422,
            content={"message": readable(exc), "detail": [
                {k: v for k, v in d.items() if k in ("loc", "msg", "type")} for d in details
            ]},
        )  # fmt: skip

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"message": str(exc), "detail": []})

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            status_code=401, content={"message": str(exc)}, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(NewsragError)
    async def service_error(request: Request, exc: NewsragError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"message": str(exc)})

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz(svc: ServiceDep) -> dict[str, Any]:
        return svc.health()

    from rag import documents_api, openai_api, stream_api  # they import this module

    app.include_router(documents_api.router)

    @app.post("/api/v1/ask", response_model=AnswerWithNotice, tags=["questions"])
    def ask(body: AskRequest, svc: ServiceDep) -> Answer:
        """Answer a question about the articles, with citations to verbatim quotes."""
        return svc.ask(body.question, **ask_arguments(body))

    app.include_router(stream_api.router)
    app.include_router(openai_api.router)

    if with_ui:
        from ui.app import mount_ui

        app = mount_ui(app, service)
    return app
