"""The edge's rate limits and LLM budgets: which rule a request meets, by whose key, at what cost.

Every rule has its own setting; `XIANXIA_RATE_LIMITS=off` turns them all off, budgets included.
A request over a limit gets 429 with `Retry-After` in the app's error shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio
from quart import Quart, current_app, request

from xianxia.config import Settings
from xianxia.web.errors import APIError, Unprocessable
from xianxia.web.forwarded import forwarded_client
from xianxia.web.ratelimit import Counter, Rule, close_counter, memory_counter, redis_counter

EXTENSION_KEY = "xianxia.limits"
GLOBAL = "all"


class RateLimited(APIError):
    """Too many requests for one of the edge's limits; `Retry-After` says when to try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(f"{message}; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class LLMBudgetExhausted(RateLimited):
    """A player's or the service's LLM budget is spent for now."""

    status = 429
    code = "llm_budget_exhausted"


class EdgeLimits:
    """The service's limits, applied by the routes and hooks below; all of them pass when limits are off."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.enabled = settings.rate_limits
        self.trusted_proxies = settings.trusted_proxy_networks
        self._settings = settings
        self._clock = clock
        self._counter: Counter | None = None
        self._pool: redis.asyncio.ConnectionPool | None = None
        self.actions = Rule.parse("actions", settings.rate_limit_actions)
        self.player_creation = Rule.parse("player_creation", settings.rate_limit_player_creation)
        self.auth_failures = Rule.parse("auth_failures", settings.rate_limit_auth_failures)
        self.llm_requests = Rule.parse("llm_requests", settings.rate_limit_llm)
        self.llm_player = Rule.calls(
            "llm_player",
            per_minute=settings.llm_player_calls_per_minute,
            per_day=settings.llm_player_calls_per_day,
        )
        self.llm_global = Rule.calls(
            "llm_global",
            per_minute=settings.llm_global_calls_per_minute,
            per_day=settings.llm_global_calls_per_day,
        )

    async def open(self) -> None:
        """Connect the counter: Redis when configured (limits hold across workers and instances), memory otherwise."""
        if not self.enabled or self._counter is not None:
            return
        if self._settings.redis_url is not None:
            self._counter, self._pool = redis_counter(
                self._settings.redis_url, self._settings.redis_prefix, clock=self._clock
            )
        else:
            self._counter = memory_counter(clock=self._clock)

    async def close(self) -> None:
        if self._counter is not None:
            await close_counter(self._counter, self._pool)
        self._counter, self._pool = None, None

    async def action(self, player_id: str) -> None:
        """One action of a player (checked after its token, so nobody else can spend a player's allowance)."""
        await self._take(self.actions, player_id, "too many actions for this player")

    async def creation(self) -> None:
        """One new player from this client address."""
        await self._take(self.player_creation, client_address(), "too many players created from this address")

    async def before_authentication(self) -> None:
        """Refuse any credential from an address that has guessed wrong too often, right or wrong this time."""
        if self._counter is None:
            return
        wait = await self._counter.wait(self.auth_failures, client_address())
        if wait:
            raise RateLimited("too many failed authentications from this address", wait)

    async def authentication_failed(self) -> None:
        """Count a wrong token from this address."""
        if self._counter is not None:
            await self._counter.take([(self.auth_failures, client_address())])

    async def llm_request(self) -> None:
        """One request to the LLM routes from this address."""
        await self._take(self.llm_requests, client_address(), "too many LLM requests from this address")

    async def llm_budget(self, player_id: str | None, calls: int) -> None:
        """Spend `calls` upstream calls of the player's budget (when known) and of the service's."""
        if self._counter is None:
            return
        rules = [(self.llm_global, GLOBAL)]
        if player_id is not None:
            rules.insert(0, (self.llm_player, player_id))
        for rule, _ in rules:
            if calls > rule.largest_cost():
                raise Unprocessable(f"{calls} LLM calls in one request exceed the budget of {rule.largest_cost()}")
        wait = await self._counter.take(rules, cost=calls)
        if wait:
            raise LLMBudgetExhausted("the LLM budget is spent for now", wait)

    async def _take(self, rule: Rule, key: str, message: str) -> None:
        if self._counter is None:
            return
        wait = await self._counter.take([(rule, key)])
        if wait:
            raise RateLimited(message, wait)


def client_address() -> str:
    """The client of the current request: the peer, or behind a trusted proxy the rightmost untrusted hop."""
    return forwarded_client(
        request.remote_addr, request.headers.getlist("X-Forwarded-For"), edge_limits().trusted_proxies
    )


def edge_limits() -> EdgeLimits:
    """The limits of the app handling the current request."""
    found: EdgeLimits = current_app.extensions[EXTENSION_KEY]
    return found


def install_limits(app: Quart, settings: Settings, *, clock: Callable[[], float] = time.time) -> EdgeLimits:
    """Hang the limits on the app, open and close them with it, and limit player creation by address."""
    edge = EdgeLimits(settings, clock=clock)
    app.extensions[EXTENSION_KEY] = edge
    app.before_serving(edge.open)
    app.after_serving(edge.close)

    @app.before_request
    async def _limit_player_creation() -> None:
        if request.endpoint == "players.create_player":
            await edge.creation()

    return edge
