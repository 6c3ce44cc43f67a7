"""Counting hits against named rules, in Redis (shared by every worker and instance) or in memory.

The policy (which rule, whose key, what a hit costs) lives in `xianxia.web.limits`; this module only
counts, with the kept `limits` library, and turns a full window into the seconds a client should wait.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import limits
import redis.asyncio
import structlog
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError

log = structlog.get_logger(__name__)

#: `moving` is exact (a log of hits; for small counts), `fixed` is one counter per window (for large budgets).
Strategy = Literal["moving", "fixed"]


def retry_after(reset_at: float, now: float) -> int:
    """Whole seconds until a window has room again; at least 1, so a client never retries at once."""
    return max(1, math.ceil(reset_at - now))


@dataclass(frozen=True)
class Rule:
    """One named limit; every one of its windows must have room (e.g. 20 a minute and 500 a day)."""

    name: str
    windows: tuple[limits.RateLimitItem, ...]
    strategy: Strategy = "moving"

    @classmethod
    def parse(cls, name: str, notation: str, strategy: Strategy = "moving") -> Rule:
        """A rule from the `limits` notation: "10/minute", "20/2seconds;100/hour"."""
        return cls(name, tuple(limits.parse_many(notation)), strategy)

    @classmethod
    def calls(cls, name: str, *, per_minute: int, per_day: int) -> Rule:
        """A budget of calls per minute and per day (fixed windows: cheap at any size)."""
        return cls(name, (limits.RateLimitItemPerMinute(per_minute), limits.RateLimitItemPerDay(per_day)), "fixed")

    def largest_cost(self) -> int:
        """The most one request may cost and still fit in an empty window."""
        return min(window.amount for window in self.windows)


class Counter:
    """Hits of rules per key; answers 0 when a hit is counted, or the seconds to wait when it is not."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self._clock = clock
        self._strategies = {"moving": MovingWindowRateLimiter(storage), "fixed": FixedWindowRateLimiter(storage)}

    async def take(self, checks: Sequence[tuple[Rule, str]], cost: int = 1) -> int:
        """Count `cost` hits for every (rule, key) when all have room, else count nothing and say how long to wait.

        A storage failure lets the request through (logged): a limit must not take the game down with Redis.
        """
        try:
            windows = [(rule, key, window) for rule, key in checks for window in rule.windows]
            if len(windows) > 1:
                waits = [await self._wait(rule, key, window, cost) for rule, key, window in windows]
                if max(waits) > 0:
                    return max(waits)
            for rule, key, window in windows:
                if not await self._strategies[rule.strategy].hit(window, rule.name, key, cost=cost):
                    return await self._reset_in(rule, key, window)  # lost a race for the last room
            return 0
        except StorageError as exc:
            log.warning("rate_limit_storage_failed", error=str(exc.storage_error))
            return 0

    async def wait(self, rule: Rule, key: str) -> int:
        """0 when one more hit of `rule` for `key` would fit, else the seconds until it would (counts nothing)."""
        try:
            waits = [await self._wait(rule, key, window, 1) for window in rule.windows]
        except StorageError as exc:
            log.warning("rate_limit_storage_failed", error=str(exc.storage_error))
            return 0
        return max(waits)

    async def _wait(self, rule: Rule, key: str, window: limits.RateLimitItem, cost: int) -> int:
        if await self._strategies[rule.strategy].test(window, rule.name, key, cost=cost):
            return 0
        return await self._reset_in(rule, key, window)

    async def _reset_in(self, rule: Rule, key: str, window: limits.RateLimitItem) -> int:
        stats = await self._strategies[rule.strategy].get_window_stats(window, rule.name, key)
        return retry_after(stats.reset_time, self._clock())


def memory_counter(*, clock: Callable[[], float] = time.time) -> Counter:
    """Counts in this process only (one worker, or tests)."""
    return Counter(MemoryStorage(wrap_exceptions=True), clock=clock)


def redis_counter(
    url: str, prefix: str, *, clock: Callable[[], float] = time.time
) -> tuple[Counter, redis.asyncio.ConnectionPool]:
    """Counts in Redis under `prefix`, shared by every process that uses the same server and prefix."""
    pool = redis.asyncio.ConnectionPool.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    shared: dict[str, Any] = {"connection_pool": pool}  # our pool, so closing the app closes its connections
    storage = RedisStorage(
        f"async+{url}", implementation="redispy", key_prefix=f"{prefix}:limits", wrap_exceptions=True, **shared
    )
    return Counter(storage, clock=clock), pool


async def close_counter(counter: Counter, pool: redis.asyncio.ConnectionPool | None) -> None:
    """Release the Redis connections, or stop the memory store's expiry timer."""
    if pool is not None:
        await pool.aclose()
    timer = getattr(counter.storage, "timer", None)
    if timer is not None and not timer.done():
        timer.cancel()
