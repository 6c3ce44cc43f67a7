"""Server-Sent Events out: one event per call, JSON data, and the response that carries them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from quart import Response

from xianxia.llm.errors import LLMError, error_code
from xianxia.web.headers import header

EVENT_STREAM = "text/event-stream"
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def wants_stream() -> bool:
    """The request asked for Server-Sent Events (`Accept: text/event-stream`)."""
    return EVENT_STREAM in (header("Accept") or "")


def event(name: str, data: Any) -> bytes:
    """One SSE event whose data is `data` as JSON on a single line."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def error_event(exc: BaseException) -> bytes:
    """The stream's closing `error` event, in the API's error shape."""
    code = error_code(exc) if isinstance(exc, LLMError) else _SNAKE.sub("_", type(exc).__name__).lower()
    return event("error", {"error": {"code": code, "message": str(exc) or type(exc).__name__}})


def stream_response(events: AsyncIterator[bytes]) -> Response:
    """A streamed SSE response that no proxy buffers and no cache keeps."""
    response = Response(events, content_type=EVENT_STREAM)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    response.timeout = None  # the LLM limits bound the stream, not Quart's response timeout
    return response
