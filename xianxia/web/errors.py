"""Every error becomes `{"error": {"code", "message"}}` with the right status, from one table (`ERRORS`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from quart import Quart, Response, current_app
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from xianxia.game.errors import ActionContention, IdempotencyKeyReused, InvalidRequest, PlayerNotFound
from xianxia.llm.errors import (
    LLMBusy,
    LLMCircuitOpen,
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    LLMUnavailable,
    error_code,
)
from xianxia.store.base import InvalidParameter, StoreUnavailable
from xianxia.tasks.celery_queue import TaskBrokerUnavailable
from xianxia.tasks.runner import TaskQueueFull
from xianxia.web.responses import json_response
from xianxia.web.services import services

log = structlog.get_logger(__name__)


class APIError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class Unauthorized(APIError):
    """No or malformed credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(APIError):
    """Credentials of somebody else."""

    status = 403
    code = "forbidden"


class NotFound(APIError):
    """No such resource."""

    status = 404
    code = "not_found"


class Unprocessable(APIError):
    """A well-formed request whose content is invalid."""

    status = 422
    code = "invalid_request"


class ServiceUnavailable(APIError):
    """A dependency is off or unreachable."""

    status = 503
    code = "unavailable"


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """The one error shape: `{"error": {"code", "message", ...}}`."""
    return json_response({"error": {"code": code, "message": encodable(message), **encodable_fields(extra)}}, status)


def encodable(text: str) -> str:
    """`text` as UTF-8 can carry it: a lone surrogate a client sent (JSON `"\\ud800"`) echoed as `\\ud800`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encodable_fields(extra: dict[str, Any]) -> dict[str, Any]:
    """The `fields` list of a 422 with every name and message encodable (they quote what the client sent)."""
    if "fields" not in extra:
        return extra
    problems = [{key: encodable(str(value)) for key, value in problem.items()} for problem in extra["fields"]]
    return {**extra, "fields": problems}


def describe_validation_error(exc: ValidationError | Exception) -> tuple[str, list[dict[str, Any]]]:
    """A message naming the first bad field, and every problem in a JSON-friendly list."""
    if not isinstance(exc, ValidationError):
        return str(exc) or "invalid request body", []
    problems = [
        {"field": ".".join(str(part) for part in error["loc"]) or "(body)", "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    first = problems[0] if problems else {"field": "(body)", "message": "invalid"}
    return f"{first['field']}: {first['message']}", problems


def llm_status(exc: LLMError) -> int:
    """503 when the LLM is off, resting or rate-limited upstream, 429 when saturated here, 504 on a deadline,
    502 for a bad upstream answer."""
    if isinstance(exc, LLMUnavailable | LLMCircuitOpen | LLMRateLimited):
        return 503
    if isinstance(exc, LLMBusy):
        return 429
    if isinstance(exc, LLMTimeout):
        return 504
    return 502


#: Answers that mean "try again later"; only these carry a rule's `Retry-After`.
RETRY_LATER = frozenset({409, 429, 503})

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def said(message: str) -> Callable[[Any], str]:
    """A fixed message, whatever the exception says."""
    return lambda _exc: message


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """How one exception type answers: status, code and message (each fixed or read from the exception),
    the `Retry-After` seconds when the status says "try again later", extra body fields and headers,
    and what to report (log, count) first."""

    exception: type[Exception]
    status: int | Callable[[Any], int]
    code: str | Callable[[Any], str]
    message: Callable[[Any], str] = str
    retry_after: int | None = None
    fields: Callable[[Any], list[dict[str, Any]]] | None = None
    headers: Callable[[Any], Mapping[str, str]] | None = None
    report: Callable[[Any], None] | None = field(default=None, repr=False)

    def answer(self, exc: Exception) -> Response:
        if self.report is not None:
            self.report(exc)
        status = self.status(exc) if callable(self.status) else self.status
        code = self.code(exc) if callable(self.code) else self.code
        extra = {"fields": self.fields(exc)} if self.fields is not None else {}
        response = error_response(status, code, self.message(exc), **extra)
        if self.retry_after is not None and status in RETRY_LATER:
            response.headers["Retry-After"] = str(self.retry_after)
        if self.headers is not None:
            response.headers.update(self.headers(exc))
        return response


def _problems(exc: ValidationError | Exception) -> list[dict[str, Any]]:
    return describe_validation_error(exc)[1]


def _count_store_error(exc: StoreUnavailable) -> None:
    log.error("store_unavailable", error=str(exc))
    services().metrics.store_errors.labels("request").inc()


def _log_unexpected(_exc: Exception) -> None:
    log.exception("unhandled_error")


def _http_code(exc: HTTPException) -> str:
    return HTTP_CODES.get(exc.code or 500, exc.name.lower().replace(" ", "_"))


def _http_message(exc: HTTPException) -> str:
    if exc.code == 400:
        return "malformed request body: expected valid JSON"
    if exc.code == 413:
        return f"request body too large (limit {current_app.config.get('MAX_CONTENT_LENGTH')} bytes)"
    return exc.description or exc.name


def _allow(exc: HTTPException) -> Mapping[str, str]:
    valid_methods = getattr(exc, "valid_methods", None)
    return {"Allow": ", ".join(valid_methods)} if valid_methods else {}


#: The whole mapping. The most specific type wins (Quart looks handlers up along the exception's MRO).
ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(APIError, lambda e: e.status, lambda e: e.code, lambda e: e.message, headers=lambda e: e.headers),
    ErrorRule(
        RequestSchemaValidationError,
        422,
        "invalid_request",
        lambda e: describe_validation_error(e.validation_error)[0],
        fields=lambda e: _problems(e.validation_error),
    ),
    ErrorRule(ValidationError, 422, "invalid_request", lambda e: describe_validation_error(e)[0], fields=_problems),
    ErrorRule(UnicodeDecodeError, 400, "bad_request", said("malformed request body: expected UTF-8 encoded JSON")),
    ErrorRule(RecursionError, 400, "bad_request", said("malformed request body: JSON nested too deeply")),
    ErrorRule(InvalidRequest, 422, "invalid_request", fields=lambda e: [{"field": e.field, "message": e.message}]),
    ErrorRule(InvalidParameter, 422, "invalid_request"),
    ErrorRule(PlayerNotFound, 404, "player_not_found", lambda e: f"no player with id {e.args[0]!r}"),
    ErrorRule(
        IdempotencyKeyReused,
        422,
        "idempotency_key_reused",
        said("this Idempotency-Key was already used for a different action; use a new key for a new action"),
    ),
    ErrorRule(TaskQueueFull, 429, "too_many_tasks", retry_after=5),
    ErrorRule(TaskBrokerUnavailable, 503, "task_queue_unavailable", retry_after=5),
    ErrorRule(ActionContention, 409, "conflict", said("the player changed too often meanwhile; retry the action"), 1),
    ErrorRule(
        StoreUnavailable,
        503,
        "store_unavailable",
        said("the save store is unavailable; nothing was changed"),
        retry_after=1,
        report=_count_store_error,
    ),
    ErrorRule(LLMError, llm_status, error_code, lambda e: str(e) or type(e).__name__, retry_after=1),
    ErrorRule(HTTPException, lambda e: e.code or 500, _http_code, _http_message, headers=_allow),
    ErrorRule(Exception, 500, "internal", said("internal error; it has been logged"), report=_log_unexpected),
)


def register_error_handlers(app: Quart) -> None:
    """Map domain and framework errors to JSON answers by `ERRORS`; nothing escapes as an HTML page."""
    for rule in ERRORS:
        app.register_error_handler(rule.exception, _handler(rule))


def _handler(rule: ErrorRule) -> Callable[[Exception], Any]:
    async def handle(exc: Exception) -> Response:
        return rule.answer(exc)

    return handle
