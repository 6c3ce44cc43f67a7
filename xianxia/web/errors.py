"""Every error becomes `{"error": {"code", "message"}}` with the right status, in one place."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from quart import Quart, Response
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
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


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


def register_error_handlers(app: Quart) -> None:
    """Map domain and framework errors to JSON answers; nothing escapes as an HTML page."""

    @app.errorhandler(APIError)
    async def _api_error(exc: APIError) -> Response:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(exc: RequestSchemaValidationError) -> Response:
        message, problems = describe_validation_error(exc.validation_error)
        return error_response(422, "invalid_request", message, fields=problems)

    @app.errorhandler(ValidationError)
    async def _model_error(exc: ValidationError) -> Response:
        message, problems = describe_validation_error(exc)
        return error_response(422, "invalid_request", message, fields=problems)

    @app.errorhandler(UnicodeDecodeError)
    async def _not_utf8(exc: UnicodeDecodeError) -> Response:
        return error_response(400, "bad_request", "malformed request body: expected UTF-8 encoded JSON")

    @app.errorhandler(RecursionError)
    async def _too_deep(exc: RecursionError) -> Response:
        return error_response(400, "bad_request", "malformed request body: JSON nested too deeply")

    @app.errorhandler(InvalidRequest)
    async def _invalid(exc: InvalidRequest) -> Response:
        return error_response(422, "invalid_request", str(exc), fields=[{"field": exc.field, "message": exc.message}])

    @app.errorhandler(InvalidParameter)
    async def _bad_parameter(exc: InvalidParameter) -> Response:
        return error_response(422, "invalid_request", str(exc))

    @app.errorhandler(PlayerNotFound)
    async def _no_player(exc: PlayerNotFound) -> Response:
        return error_response(404, "player_not_found", f"no player with id {exc.args[0]!r}")

    @app.errorhandler(IdempotencyKeyReused)
    async def _key_reused(exc: IdempotencyKeyReused) -> Response:
        return error_response(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different action; use a new key for a new action",
        )

    @app.errorhandler(TaskQueueFull)
    async def _tasks_full(exc: TaskQueueFull) -> Response:
        response = error_response(429, "too_many_tasks", str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(ActionContention)
    async def _contention(exc: ActionContention) -> Response:
        response = error_response(409, "conflict", "the player changed too often meanwhile; retry the action")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(StoreUnavailable)
    async def _store_down(exc: StoreUnavailable) -> Response:
        log.error("store_unavailable", error=str(exc))
        services().metrics.store_errors.labels("request").inc()
        response = error_response(503, "store_unavailable", "the save store is unavailable; nothing was changed")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(LLMError)
    async def _llm(exc: LLMError) -> Response:
        status = llm_status(exc)
        response = error_response(status, error_code(exc), str(exc) or type(exc).__name__)
        if status in (429, 503):
            response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    async def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        messages = {
            400: "malformed request body: expected valid JSON",
            413: f"request body too large (limit {app.config.get('MAX_CONTENT_LENGTH')} bytes)",
        }
        message = messages.get(status) or exc.description or exc.name
        response = error_response(status, codes.get(status, exc.name.lower().replace(" ", "_")), message)
        valid_methods = getattr(exc, "valid_methods", None)
        if valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled_error")
        return error_response(500, "internal", "internal error; it has been logged")
