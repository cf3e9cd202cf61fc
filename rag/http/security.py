"""The optional API key (`NEWSRAG_API_KEY`): one FastAPI dependency for the API routes and
one check for the chat's login form.

The dependency is installed on the whole FastAPI app, so every route added later under
`/api/` or `/v1/` is covered without remembering to; `/healthz`, `/docs` and
`/openapi.json` stay open (a health probe and the docs reveal no article text). The
Gradio chat is a mounted app, outside FastAPI's dependencies: it is protected by
Gradio's own login (`chat_login`), whose session cookie guards every Gradio route,
uploads included.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from rag.errors import NewsragError

PROTECTED_PREFIXES = ("/api/", "/v1/")

_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


class Unauthorized(NewsragError):
    """The request lacks the API key or carries a wrong one (HTTP 401)."""


def key_matches(given: str | None, expected: SecretStr) -> bool:
    """Constant-time comparison, so response timing does not leak the key."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def is_protected(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES)


def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    """Reject API calls without the configured key (`Authorization: Bearer` or `X-API-Key`)."""
    expected: SecretStr | None = request.app.state.service.settings.api_key
    if expected is None or not is_protected(request.url.path):
        return
    given = header or (bearer.credentials if bearer else None)
    if not key_matches(given, expected):
        raise Unauthorized(
            "missing or wrong API key: send it as `Authorization: Bearer <key>` "
            "or `X-API-Key: <key>` (NEWSRAG_API_KEY on the server)"
        )


def chat_login(expected: SecretStr) -> Callable[[str, str], bool]:
    """Gradio's `auth` check: the password must be the API key (any user name)."""

    def check(username: str, password: str) -> bool:
        return key_matches(password, expected)

    return check
