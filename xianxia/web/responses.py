"""JSON responses built directly, so hot routes skip quart-schema's per-response re-serialisation of dicts."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON with `status` and extra `headers`."""
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response
