"""Bearer tokens: a player's own token for player routes, the admin token for admin routes."""

from __future__ import annotations

import hashlib
import hmac

import structlog
from quart import request

from xianxia.store.base import PlayerRecord
from xianxia.web.errors import Forbidden, NotFound, Unauthorized
from xianxia.web.limits import edge_limits
from xianxia.web.services import services

log = structlog.get_logger(__name__)


def bearer_token() -> str:
    """The request's bearer token, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


async def authorized_player(player_id: str, *, recent: bool = False) -> PlayerRecord:
    """The player addressed by the route, if the bearer token is theirs (401 / 404 / 403 otherwise).

    `recent` takes the worker's last committed record when it has one (`GameService.recent_player`): only
    for an action, whose commit catches a stale record; a read must see the store.
    """
    token = bearer_token()
    limits = edge_limits()
    await limits.before_authentication()
    game = services().game
    record = await (game.recent_player(player_id) if recent else game.get_player(player_id))
    if not game.token_matches(record, token):
        await limits.authentication_failed()
        raise Forbidden("this token does not belong to this player")
    return record


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of fixed-length digests, so length leaks nothing either."""
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest())


async def require_admin(off: str) -> None:
    """The admin's bearer token, or 401 (none) / 403 (wrong); 404 saying `off` when no admin token is set."""
    expected = services().settings.admin_token
    if expected is None:
        raise NotFound(off)
    token = bearer_token()
    limits = edge_limits()
    await limits.before_authentication()
    if not same_secret(token, expected):
        await limits.authentication_failed()
        log.warning("admin_auth_failed", path=request.path)
        raise Forbidden("wrong admin token")
