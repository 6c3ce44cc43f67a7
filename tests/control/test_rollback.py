"""The rollback watch: sums every worker's calls over the window and switches the LLM off once, with its figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from xianxia.control.audit import mode_changes
from xianxia.control.mode import ModeSwitch
from xianxia.control.rollback import RollbackLimits, RollbackWatch
from xianxia.store.sqlite import SQLiteStore

LIMITS = RollbackLimits(window_seconds=30.0, min_calls=20, error_rate=0.10, p95_seconds=5.0)


class Clock:
    """Wall time moved by hand; every worker of a test reads the same one, as processes read one system clock."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Cause:
    def __init__(self) -> None:
        self.causes: list[str] = []

    def rolled_back(self, cause: str) -> None:
        self.causes.append(cause)


class Worker:
    """One worker process's mode switch and watch over the shared store."""

    def __init__(self, store: SQLiteStore, clock: Clock, *, limits: RollbackLimits = LIMITS) -> None:
        self.modes = ModeSwitch(store, "async", llm_available=True, clock=clock)
        self.seen = Cause()
        self.watch = RollbackWatch(store, self.modes, limits, clock=clock, observer=self.seen)

    def calls(self, count: int, *, outcome: str = "ok", seconds: float = 0.2) -> None:
        for _ in range(count):
            self.watch.tally.request("parse", outcome, seconds)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "watch.db")
    await opened.open()
    yield opened
    await opened.close()


async def raised(worker: Worker, clock: Clock, share: float = 0.25) -> None:
    """An operator puts the LLM on (a stored mode: the window starts there), and a second passes."""
    await worker.modes.set("async", changed_by="admin", share=share, reason="rollout")
    assert worker.modes.state.updated_at == clock.now
    clock.now += 1


async def test_errors_spread_over_workers_trip_once_for_every_worker(store: SQLiteStore) -> None:
    clock = Clock()
    a, b = Worker(store, clock), Worker(store, clock)
    await raised(a, clock)
    await b.modes.refresh()  # b's poller has read the raised mode
    a.calls(10)
    a.calls(2, outcome="server_error")
    b.calls(6)
    b.calls(2, outcome="timeout", seconds=8.0)  # 4 of 20 failed: 20%; neither worker alone has 20 calls
    await a.watch.flush()

    with capture_logs() as logs:
        quiet = await a.watch.tick()  # a sees only its own 12: too few to judge
        assert quiet is not None and (quiet.calls, quiet.workers) == (12, 1) and a.modes.requested == "async"
        judged = await b.watch.tick()
        late = await a.watch.tick()  # a has not polled the mode since: it trips too, but b's write stands

    assert judged is not None and (judged.calls, judged.errors, judged.workers) == (20, 4, 2)
    assert late is not None and (late.calls, late.errors) == (20, 4)
    assert await a.watch.tick() is None  # off now, and a knows it: nothing more to judge
    assert (a.modes.requested, b.modes.requested) == ("off", "off")
    assert b.seen.causes == ["error_rate"] and a.seen.causes == []
    tripped = [entry for entry in logs if entry["event"] == "llm_rollback_tripped"]
    assert [(entry["calls"], entry["errors"], entry["error_rate"]) for entry in tripped] == [(20, 4, 0.2)]

    newest, first = await mode_changes(store)
    assert (newest.changed_by, newest.cause, first.cause) == ("rollback", "error_rate", "manual")
    assert newest.old is not None and newest.old.mode == "async" and newest.new is not None
    assert newest.new.mode == "off"
    assert newest.figures is not None
    assert {key: newest.figures[key] for key in ("calls", "errors", "error_rate", "workers")} == {
        "calls": 20,
        "errors": 4,
        "error_rate": 0.2,
        "workers": 2,
    }
    assert newest.figures["limits"] == LIMITS.as_dict()
    assert "20.0%" in newest.reason and "4 of 20 calls on 2 worker(s)" in newest.reason


async def test_slow_calls_trip_on_p95(store: SQLiteStore) -> None:
    clock = Clock()
    a = Worker(store, clock)
    await raised(a, clock)
    a.calls(18, seconds=0.3)
    a.calls(2, seconds=7.5)  # 10% slower than 5 s: p95 lies past it
    figures = await a.watch.tick()
    assert figures is not None and 5.0 < figures.p95_seconds < 10.0 and figures.errors == 0
    assert a.modes.requested == "off" and a.seen.causes == ["latency_p95"]
    (entry, _) = await mode_changes(store)
    assert entry.cause == "latency_p95" and entry.figures is not None
    assert entry.figures["p95_seconds"] == figures.p95_seconds


@pytest.mark.parametrize(
    ("ok", "failed", "slow"),
    [(19, 0, 0), (10, 9, 0), (18, 2, 0), (19, 0, 1)],
    ids=["too-few-to-judge", "too-few-even-all-failing", "error-rate-at-the-limit", "p95-within"],
)
async def test_figures_within_the_limits_leave_the_mode_alone(
    store: SQLiteStore, ok: int, failed: int, slow: int
) -> None:
    clock = Clock()
    a = Worker(store, clock)
    await raised(a, clock)
    a.calls(ok)
    a.calls(failed, outcome="server_error")
    a.calls(slow, seconds=9.0)
    await a.watch.tick()
    assert a.modes.requested == "async" and a.seen.causes == []


async def test_only_the_window_counts_and_old_rows_are_forgotten(store: SQLiteStore) -> None:
    clock = Clock()
    a = Worker(store, clock)
    a.calls(40, outcome="server_error")  # long ago, with no stored mode (the start-up default)
    await a.watch.flush()
    clock.now += LIMITS.window_seconds + 1
    a.calls(25)
    figures = await a.watch.tick()
    assert figures is not None and (figures.calls, figures.errors) == (25, 0)
    assert a.modes.requested == "async"
    clock.now += 2 * LIMITS.window_seconds + 1
    await a.watch.tick()  # the purge runs at most once a window and forgets rows older than two windows
    assert (await store.llm_call_totals(since=0.0)).calls == 0


async def test_a_raised_mode_starts_with_a_clean_window(store: SQLiteStore) -> None:
    clock = Clock()
    a = Worker(store, clock)
    await raised(a, clock)
    a.calls(30, outcome="server_error")
    await a.watch.tick()
    assert a.modes.requested == "off"
    await a.watch.tick()
    assert a.seen.causes == ["error_rate"]  # it stays off, and is not judged again while off

    clock.now += 5  # the operator fixed the cause and raises the mode again: the old errors are before it
    await raised(a, clock, share=0.05)
    a.calls(20)
    figures = await a.watch.tick()
    assert figures is not None and (figures.calls, figures.errors) == (20, 0)
    assert a.modes.requested == "async"


async def test_the_off_switch_and_an_off_mode_judge_nothing(store: SQLiteStore) -> None:
    clock = Clock()
    off = Worker(store, clock)
    off.watch.enabled = False
    off.calls(30, outcome="server_error")
    assert await off.watch.tick() is None and off.modes.requested == "async"
    assert off.watch.view()["enabled"] is False and off.watch.view()["window"] is None
    await off.modes.set("off", changed_by="admin")
    on = Worker(store, clock)
    await on.modes.start()
    on.calls(30, outcome="server_error")
    assert await on.watch.judge() is None
    assert [change.changed_by for change in await mode_changes(store)] == ["admin"]
    await on.modes.stop()


async def test_the_view_shows_the_limits_the_last_figures_and_a_rollback(store: SQLiteStore) -> None:
    clock = Clock()
    a = Worker(store, clock)
    await raised(a, clock)
    a.calls(21, outcome="connection_error")
    await a.watch.tick()
    view = a.watch.view()
    assert view["enabled"] is True and view["rolled_back"] is True
    assert view["limits"] == LIMITS.as_dict()
    assert view["window"]["calls"] == 21 and view["window"]["error_rate"] == 1.0


class SlowStore:
    """The shared store, with writes of call rows that wait until the test lets them through.

    As in the real stores (SQLite's writer thread, a PostgreSQL statement already sent), a write once begun
    goes on when its caller is cancelled.
    """

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.gate = asyncio.Event()

    async def record_llm_calls(self, sample: Any) -> None:
        await asyncio.shield(asyncio.ensure_future(self._write(sample)))

    async def _write(self, sample: Any) -> None:
        await self.gate.wait()
        await self.store.record_llm_calls(sample)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_a_flush_cancelled_mid_write_is_counted_once(store: SQLiteStore) -> None:
    """`stop` cancels the watch while it writes, then flushes again: the row lands once, the new calls after."""
    clock = Clock()
    slow = SlowStore(store)
    worker = Worker(slow, clock)  # type: ignore[arg-type]
    worker.calls(3)
    flushing = asyncio.create_task(worker.watch.flush())
    await asyncio.sleep(0)  # the write is under way
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    worker.calls(2)
    slow.gate.set()
    await worker.watch.flush()
    for _ in range(200):  # the first write, no longer awaited, lands in its own time
        totals = await store.llm_call_totals(since=clock.now - 60)
        if totals.calls >= 5:
            break
        await asyncio.sleep(0.01)
    assert totals.calls == 5
