"""Admin routes (bearer XIANXIA_ADMIN_TOKEN): the live LLM mode switch and its audit log. Off (404) with no token."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, g, request
from quart_schema import document_response, validate_querystring, validate_request

from xianxia.control.audit import mode_changes
from xianxia.control.mode import ModeState
from xianxia.web.auth import require_admin
from xianxia.web.openapi import AUTH_ERRORS, BODY_ERRORS, bearer, errors
from xianxia.web.schemas import AuditOut, AuditQuery, ModeIn, ModeOut
from xianxia.web.services import services

blueprint = Blueprint("admin", __name__, url_prefix="/api/admin")


@blueprint.before_request
async def _require_admin() -> None:
    await require_admin("admin routes are off: XIANXIA_ADMIN_TOKEN is not set")


def _mode_body(state: ModeState, previous: ModeState | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": state.mode,
        "effective": services().modes.current,
        "share": state.share,
        "changed_by": state.changed_by,
        "reason": state.reason,
        "updated_at": state.updated_at,
    }
    if previous is not None:
        body["previous"] = previous.mode
    return body


@blueprint.get("/mode")
@document_response(ModeOut)
@errors(*AUTH_ERRORS, 503)
@bearer
async def get_mode() -> dict[str, Any]:
    """The LLM mode requested for every worker, and the one in force on this worker."""
    modes = services().modes
    await modes.refresh()
    return _mode_body(modes.state)


@blueprint.put("/mode")
@validate_request(ModeIn)
@document_response(ModeOut)
@errors(*BODY_ERRORS, *AUTH_ERRORS, 503)
@bearer
async def put_mode(data: ModeIn) -> dict[str, Any]:
    """Switch the LLM mode on every worker and instance (in force within 2 s, no restart)."""
    share = 1.0 if data.share is None else data.share
    origin = f"{request.remote_addr or 'unknown'} request {getattr(g, 'request_id', '-')}"
    old, new = await services().modes.set(data.mode, changed_by="admin", reason=data.reason, share=share, origin=origin)
    return _mode_body(new, old)


@blueprint.get("/audit")
@validate_querystring(AuditQuery)
@document_response(AuditOut)
@errors(*AUTH_ERRORS, 422, 503)
@bearer
async def get_audit(query_args: AuditQuery) -> dict[str, Any]:
    """Every change of the LLM mode (by hand, automatic rollback, 401/402 kill switch), newest first.

    Each entry says who (`changed_by`, `origin`), why (`cause`, `reason`), when (`at`), from and to what
    mode and share, and the figures an automatic change was decided on. `?limit=` bounds it (1-1000, 100).
    """
    changes = await mode_changes(services().store, query_args.limit)
    return {"entries": [change.as_dict() for change in changes]}
