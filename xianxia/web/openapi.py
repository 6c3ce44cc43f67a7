"""OpenAPI helpers: every error status a route can answer is documented with the one error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart_schema import document_response, security_scheme

from xianxia.web.schemas import ErrorBody

F = TypeVar("F", bound=Callable[..., object])

#: Statuses any JSON route with a body can answer: malformed (400), too large (413), not JSON (415), invalid (422).
BODY_ERRORS = (400, 413, 415, 422)
#: Statuses of routes behind a player's or the admin's bearer token (429: too many wrong tokens from the address).
AUTH_ERRORS = (401, 403, 404, 429)
#: Statuses of the `/api/llm/*` routes' credential check and per-address limit and budgets.
LLM_ACCESS = (401, 403, 429)
#: Statuses of routes that reach the LLM.
LLM_ERRORS = (429, 502, 503, 504)
#: The store is unreachable (503 `store_unavailable`).
STORE_ERRORS = (503,)


def errors(*statuses: int) -> Callable[[F], F]:
    """Document `{"error": {"code", "message"}}` for each status."""

    def decorate(func: F) -> F:
        for status in statuses:
            func = document_response(ErrorBody, status)(func)
        return func

    return decorate


def bearer(func: F) -> F:
    """The route needs `Authorization: Bearer <token>`."""
    return security_scheme([{"bearer": []}])(func)
