"""The automatic rollback: the LLM path's error rate or p95 over a sliding window, summed over every worker and
instance, past its limit switches the mode `off` everywhere until an operator raises it again.

Every worker flushes its tally to the store about once a second and then judges the window's sums; the switch-off
goes through `ModeSwitch.switch_off`, which writes it (and its audit entry) only if the mode is still the one the
window was judged under, so workers tripping together write it once. The 401/402 kill switch takes the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from xianxia.background import stop_task
from xianxia.control.killswitch import SWITCHED_BY
from xianxia.control.mode import ModeState, ModeSwitch, this_worker
from xianxia.control.window import CallTally, WindowFigures
from xianxia.llm.clock import Clock
from xianxia.store.base import Store, StoreError

log = structlog.get_logger(__name__)

#: `changed_by` of a switch-off by the watch (the kill switch's is "upstream").
ROLLED_BY = "rollback"


class RollbackObserver(Protocol):
    def rolled_back(self, cause: str) -> None:
        """This worker switched the LLM off for every worker because of `cause` (error_rate, latency_p95)."""


@dataclass(frozen=True, slots=True)
class RollbackLimits:
    """When the watch trips: over `window_seconds`, at least `min_calls`, and an error rate or p95 over its limit."""

    window_seconds: float = 60.0
    min_calls: int = 20
    error_rate: float = 0.10
    p95_seconds: float = 5.0

    def verdict(self, figures: WindowFigures) -> tuple[str, str] | None:
        """(cause, reason) when the figures cross a limit; None while they do not, or are too few to judge."""
        if figures.calls < self.min_calls:
            return None
        seen = f"{figures.calls} calls on {figures.workers} worker(s) in the last {figures.window_seconds:g} s"
        if figures.error_rate > self.error_rate:
            return "error_rate", (
                f"LLM error rate {figures.error_rate:.1%} ({figures.errors} of {seen}) over the limit"
                f" {self.error_rate:.0%}"
            )
        if figures.p95_seconds > self.p95_seconds:
            return "latency_p95", (
                f"LLM p95 latency {figures.p95_seconds:g} s ({seen}) over the limit {self.p95_seconds:g} s"
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window_seconds,
            "min_calls": self.min_calls,
            "error_rate": self.error_rate,
            "p95_seconds": self.p95_seconds,
        }


class RollbackWatch:
    """Flushes this worker's tally and judges the window, every `interval` seconds while it runs."""

    def __init__(
        self,
        store: Store,
        modes: ModeSwitch,
        limits: RollbackLimits,
        *,
        enabled: bool = True,
        interval: float = 1.0,
        clock: Clock = time.time,
        observer: RollbackObserver | None = None,
    ) -> None:
        self.tally = CallTally()
        self.limits = limits
        self.enabled = enabled
        self._store = store
        self._modes = modes
        self._interval = interval
        self._clock = clock  # wall time: the rows of every worker and machine are compared on it
        self._observer = observer
        self._worker = f"{this_worker()}:{uuid.uuid4().hex[:8]}"  # unique even when a pid is reused
        self._seq = 0
        self._last: WindowFigures | None = None
        self._purged_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def last(self) -> WindowFigures | None:
        """The figures of this worker's latest judgement (None before the first)."""
        return self._last

    def view(self) -> dict[str, Any]:
        """The watch as `/readyz` shows it."""
        state = self._modes.state
        return {
            "enabled": self.enabled,
            "rolled_back": state.mode == "off" and state.changed_by in (ROLLED_BY, SWITCHED_BY),
            "limits": self.limits.as_dict(),
            "window": None if self._last is None else self._last.as_dict(),
        }

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="llm-rollback-watch")

    async def stop(self) -> None:
        """Stop judging; what was counted since the last flush is flushed once more."""
        if self._task is not None:
            task, self._task = self._task, None
            await stop_task(task)
            with contextlib.suppress(StoreError):
                await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.tick()
            except StoreError as exc:
                log.warning("llm_rollback_watch_failed", error=str(exc))

    async def tick(self) -> WindowFigures | None:
        """One round: flush, judge, now and then forget rows older than the window."""
        await self.flush()
        figures = await self.judge()
        now = self._clock()
        if now - self._purged_at >= self.limits.window_seconds:
            self._purged_at = now
            await self._store.forget_llm_calls(before=now - 2 * self.limits.window_seconds)
        return figures

    async def flush(self) -> None:
        """Write what this worker counted since the last flush (nothing when it made no call).

        A sequence number is used once, and the write is not cut by a cancellation (`stop` cancels the
        watch mid-flush, then flushes again): a cancelled write may still commit in the store's thread, and
        retrying its row would count it twice, or collide with it.
        """
        self._seq += 1
        sample = self.tally.take(self._worker, self._seq, self._clock())
        if sample is None:
            return
        write = asyncio.ensure_future(self._store.record_llm_calls(sample))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            write.add_done_callback(self._written_late)
            raise
        except BaseException:
            self.tally.put_back(sample)  # it never reached the store: count it in the next flush
            raise

    @staticmethod
    def _written_late(write: asyncio.Future[None]) -> None:
        if not write.cancelled() and write.exception() is not None:
            log.warning("llm_rollback_flush_lost", error=str(write.exception()))

    async def judge(self) -> WindowFigures | None:
        """Sum the window over every worker; switch the LLM off when it crosses a limit. The figures, if judged."""
        state = self._modes.state
        if not self.enabled or self._modes.current == "off":
            return None
        now = self._clock()
        # Only what came after the last mode change: a raised mode starts with a clean window.
        since = max(now - self.limits.window_seconds, state.updated_at)
        totals = await self._store.llm_call_totals(since=since)
        figures = WindowFigures.of(totals, at=now, since=since, window_seconds=self.limits.window_seconds)
        self._last = figures
        verdict = self.limits.verdict(figures)
        if verdict is not None:
            await self._trip(*verdict, figures, state)
        return figures

    async def _trip(self, cause: str, reason: str, figures: WindowFigures, judged: ModeState) -> None:
        details = {**figures.as_dict(), "limits": self.limits.as_dict()}
        switched = await self._modes.switch_off(
            changed_by=ROLLED_BY, cause=cause, reason=reason, figures=details, judged=judged
        )
        if switched is None:  # another worker wrote it first, or the mode changed since it was judged
            log.info("llm_rollback_not_written", cause=cause, **figures.as_dict())
            return
        log.error("llm_rollback_tripped", cause=cause, reason=reason, **figures.as_dict())
        if self._observer is not None:
            self._observer.rolled_back(cause)
