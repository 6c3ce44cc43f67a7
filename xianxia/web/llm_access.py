"""Who may spend upstream credit on `/api/llm/*`, and how much: credential, per-address limit, budgets."""

from __future__ import annotations

from quart import request

from xianxia.config import Settings
from xianxia.game.errors import PlayerNotFound
from xianxia.web.auth import bearer_token, same_secret
from xianxia.web.errors import Forbidden, Unauthorized
from xianxia.web.limits import edge_limits
from xianxia.web.services import services

#: Names the player whose bearer token is sent to an LLM route (player tokens do not say whose they are).
PLAYER_HEADER = "X-Player-ID"


def llm_closed(settings: Settings) -> bool:
    """Anonymous callers are turned away when an upstream key or a service token is set, unless opened on purpose."""
    return (settings.deepseek_api_key is not None or settings.llm_token is not None) and not settings.llm_open


async def guard_llm_route() -> None:
    """Check the caller, then count the request against its address and its upstream calls against the budgets."""
    settings = services().settings
    player_id = await llm_caller(settings)
    if request.method != "POST":
        return  # reading a task's status spends nothing
    edge = edge_limits()
    await edge.llm_request()
    if settings.deepseek_api_key is not None:
        await edge.llm_budget(player_id, await upstream_calls())


async def llm_caller(settings: Settings) -> str | None:
    """The player calling (None for the service token or an anonymous caller where that is allowed); else 401/403."""
    closed = llm_closed(settings)
    if not request.headers.get("Authorization"):
        if closed:
            raise Unauthorized(
                "the LLM routes need a credential: 'Authorization: Bearer <service token>', "
                f"or a player's token with '{PLAYER_HEADER}: <player id>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
    token = bearer_token()
    edge = edge_limits()
    await edge.before_authentication()
    if settings.llm_token is not None and same_secret(token, settings.llm_token):
        return None
    player_id = request.headers.get(PLAYER_HEADER, "")[:64]
    if player_id and await _is_players_token(player_id, token):
        return player_id
    if not closed:
        return None  # open on purpose: an unknown credential is simply anonymous
    await edge.authentication_failed()
    raise Forbidden(f"neither the LLM service token nor the token of the player named in {PLAYER_HEADER}")


async def _is_players_token(player_id: str, token: str) -> bool:
    game = services().game
    try:
        record = await game.get_player(player_id)
    except PlayerNotFound:
        return False
    return game.token_matches(record, token)


async def upstream_calls() -> int:
    """What the request may cost upstream: one call per prompt of a batch, one for anything else."""
    body = await request.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("prompts"), list):
        return max(1, len(body["prompts"]))
    return 1
