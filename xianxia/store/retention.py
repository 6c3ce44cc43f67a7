"""Retention: a periodic pass that forgets old idempotency answers and finished tasks; the action log stays.

Every worker of every instance runs the loop. Purging is idempotent (a `DELETE ... WHERE created_at < cutoff`),
so two passes at once are harmless; to keep the database from doing the work once per worker, a pass first
reads the time of the last pass from the shared settings and does nothing when another worker purged within
the interval. Two workers that both read a stale mark both purge, which costs a second, empty delete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from xianxia.background import stop_task
from xianxia.store.base import PurgeCounts, Store, StoreError

#: Seconds since the epoch, as stored rows' `created_at` / `updated_at` are; `time.time` outside tests.
WallClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

#: The setting holding the epoch seconds of the last pass, shared by every worker and instance.
LAST_PASS_KEY = "retention_last_pass"


class Retention:
    """Deletes idempotency answers older than `idempotency_ttl` and finished tasks older than `task_retention`."""

    def __init__(
        self,
        store: Store,
        *,
        idempotency_ttl: float,
        task_retention: float,
        interval: float,
        clock: WallClock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self.idempotency_ttl = idempotency_ttl
        self.task_retention = task_retention
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run a pass in the background now, then every `interval` seconds."""
        self._loop_task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        """Stop the loop; a pass in progress is cancelled (the next one, anywhere, does its work)."""
        task, self._loop_task = self._loop_task, None
        await stop_task(task)

    async def run_once(self) -> PurgeCounts | None:
        """One pass: purge unless another worker did within the interval; what was purged, or None if skipped."""
        now = self._clock()
        mark = await self._store.get_setting(LAST_PASS_KEY)
        last = _seconds(mark.value) if mark is not None else None
        if last is not None and 0 <= now - last < self.interval:
            return None
        await self._store.set_setting(LAST_PASS_KEY, repr(now))
        counts = await self._store.purge_expired(
            idempotency_before=now - self.idempotency_ttl, tasks_before=now - self.task_retention
        )
        _log().info(
            "retention_purged",
            idempotency_keys=counts.idempotency_keys,
            tasks=counts.tasks,
            idempotency_ttl=self.idempotency_ttl,
            task_retention=self.task_retention,
        )
        return counts

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except StoreError as exc:  # the store is down: try again next interval
                _log().warning("retention_failed", error=str(exc))
            await self._sleep(self.interval)


def _log() -> structlog.typing.FilteringBoundLogger:
    """A logger bound now: a pass runs every few minutes, and tests capture its lines (cached loggers escape that)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)
    return logger


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
