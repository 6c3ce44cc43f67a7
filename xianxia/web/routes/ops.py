"""Operator routes: liveness, readiness, metrics."""

from __future__ import annotations

import os
from typing import Any

from quart import Blueprint, Response, current_app
from quart_schema import document_response

from xianxia.store.base import StoreError
from xianxia.web.auth import require_admin
from xianxia.web.draining import draining_of
from xianxia.web.openapi import AUTH_ERRORS, bearer, errors
from xianxia.web.schemas import HealthOut, ReadyOut
from xianxia.web.services import services

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
@document_response(HealthOut)
async def healthz() -> dict[str, Any]:
    """The process is alive (and which worker process answered)."""
    return {"status": "ok", "pid": os.getpid()}


@blueprint.get("/readyz")
@document_response(ReadyOut)
@document_response(ReadyOut, 503)
async def readyz() -> tuple[dict[str, Any], int]:
    """Ready when the store answers and the worker is not draining; reports the LLM mode, circuit and rollback too.

    An LLM switched off (by hand or by the automatic rollback) leaves it ready: the game plays on the rules parser.
    """
    found = services()
    checks: dict[str, Any] = {"serving": "ok"}
    ready = True
    try:
        await found.store.ping()
        checks["store"] = "ok"
    except StoreError as exc:
        found.metrics.store_errors.labels("readiness").inc()
        checks["store"] = f"unavailable: {exc}"
        ready = False
    # Read after the ping: had drain begun during it, "ready" would go out with the drain's Connection: close.
    if draining_of(current_app).active:
        checks["serving"] = "draining"
        ready = False
    state = found.modes.state
    checks["llm"] = {
        "mode": found.modes.current,
        "requested": state.mode,
        "share": state.share,
        "changed_by": state.changed_by,
        "reason": state.reason or found.modes.unavailable_reason or "",
        "circuit": found.client.circuit_state if found.client is not None else "n/a",
        "rollback": found.rollback.view(),
    }
    body = {"status": "ready" if ready else "unavailable", "pid": os.getpid(), "checks": checks}
    return body, 200 if ready else 503


@blueprint.get("/metrics")
@errors(*AUTH_ERRORS)
@bearer
async def metrics() -> Response:
    """Prometheus text exposition, every worker's samples summed (the admin token; 404 when that is unset).

    With XIANXIA_METRICS_BIND the supervisor serves the same text on that address without a credential.
    """
    settings = services().settings
    if settings.metrics_bind is not None:
        off = f"/metrics is served on {settings.metrics_bind} (XIANXIA_METRICS_BIND); here it needs the admin token"
    else:
        off = "/metrics is off: set XIANXIA_ADMIN_TOKEN (scrape with that token) or XIANXIA_METRICS_BIND"
    await require_admin(off)
    found = services().metrics
    return Response(found.render(), content_type=found.content_type)
