"""The app factory: the API routes over one `NewsQA`, with the Gradio chat mounted at `/`."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rag import __version__
from rag.errors import InputError, NewsragError
from rag.http import ask, documents, openai_compat, stream
from rag.http.deps import Health, ServiceDep
from rag.http.security import Unauthorized, chat_login, require_api_key
from rag.service import NewsQA


def readable(exc: RequestValidationError) -> str:
    """One line per problem: `field: message`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


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

    app.include_router(documents.router)
    app.include_router(ask.router)
    app.include_router(stream.router)
    app.include_router(openai_compat.router)

    if with_ui:
        from ui.app import mount_ui  # gradio loads only when the chat is served

        key = service.settings.api_key
        app = mount_ui(app, service, login=chat_login(key) if key else None)
    return app
