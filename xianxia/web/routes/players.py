"""Player routes: create, read, act, log."""

from __future__ import annotations

import re
from dataclasses import asdict

from quart import Blueprint, Response
from quart_schema import document_headers, document_response, validate_querystring, validate_request

from xianxia.engine import ParsedIntent
from xianxia.game.errors import InvalidRequest
from xianxia.web.action_stream import streamed_action
from xianxia.web.auth import authorized_player
from xianxia.web.contract import enforce
from xianxia.web.headers import header
from xianxia.web.limits import edge_limits
from xianxia.web.openapi import AUTH_ERRORS, BODY_ERRORS, STORE_ERRORS, bearer, errors
from xianxia.web.responses import json_response
from xianxia.web.schemas import (
    Act,
    ActHeaders,
    ActionOut,
    CreatedPlayer,
    CreatePlayer,
    LogOut,
    LogQuery,
    PlayerEnvelope,
)
from xianxia.web.services import services
from xianxia.web.sse import wants_stream

blueprint = Blueprint("players", __name__, url_prefix="/api/players")

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


@blueprint.post("")
@validate_request(CreatePlayer)
@document_response(CreatedPlayer, 201)
@errors(*BODY_ERRORS, 429, *STORE_ERRORS)
async def create_player(data: CreatePlayer) -> Response:
    """Create a player; the answer carries its secret bearer token (shown once)."""
    game = services().game
    state, token = await game.create_player(data.name)
    return json_response({"player": game.view(state), "token": token}, 201)


@blueprint.get("/<player_id>")
@document_response(PlayerEnvelope)
@errors(*AUTH_ERRORS, 422, *STORE_ERRORS)
@bearer
async def get_player(player_id: str) -> Response:
    """The player, for its own token."""
    record = await authorized_player(player_id)
    return json_response({"player": services().game.view(record.state)})


@blueprint.post("/<player_id>/act")
@validate_request(Act)
@document_headers(ActHeaders)
@document_response(ActionOut)
@errors(*BODY_ERRORS, *AUTH_ERRORS, 409, *STORE_ERRORS)
@bearer
async def act(player_id: str, data: Act) -> Response:
    """Say something (`text`) or do something (`intent` + `slots`); exactly once per Idempotency-Key.

    With `Accept: text/event-stream` the answer streams: `narration` events carry an NPC's line as it is
    written, and one closing `answer` event carries this same JSON answer (`error` if the action fails).
    """
    record = await authorized_player(player_id, recent=True)
    await edge_limits().action(player_id)
    enforce(data, services().settings)
    key = header("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidRequest("Idempotency-Key", "must be 1 to 128 printable ASCII characters without spaces")
    intent = ParsedIntent(intent=data.intent, slots=data.slots) if data.intent is not None else None
    game = services().game
    if wants_stream():
        return await streamed_action(
            lambda emit: game.act(
                player_id, text=data.text, intent=intent, idempotency_key=key, known=record, on_narration=emit
            )
        )
    answer = await game.act(player_id, text=data.text, intent=intent, idempotency_key=key, known=record)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(answer.body, headers=headers)


@blueprint.get("/<player_id>/log")
@validate_querystring(LogQuery)
@document_response(LogOut)
@errors(*AUTH_ERRORS, 422, *STORE_ERRORS)
@bearer
async def action_log(player_id: str, query_args: LogQuery) -> Response:
    """The player's action log, oldest first; page with `?after=<seq>&limit=<n>`."""
    await authorized_player(player_id)
    limit = query_args.limit
    entries = await services().game.action_log(player_id, after_seq=query_args.after, limit=limit)
    return json_response(
        {
            "player_id": player_id,
            "entries": [asdict(entry) for entry in entries],
            "next_after": entries[-1].seq if len(entries) == limit else None,
        }
    )
