"""Retention: old idempotency answers and finished tasks are forgotten on a clock; the action log is kept."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest
import structlog

from tests.store.conftest import AnyStore, Backend, make_state, next_action, wait_until
from xianxia.store.base import PurgeCounts, TaskRecord, TaskStatus
from xianxia.store.retention import LAST_PASS_KEY, Retention

DAY = 24 * 3600.0
START = 1_000_000.0


@pytest.fixture(autouse=True)
def _info_logs() -> Iterator[None]:
    """Info lines reach `capture_logs` whatever level an earlier test configured; the config is put back after."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.configure(**saved)


class WallClock:
    """Epoch seconds the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def retention(store: AnyStore, clock: WallClock, *, interval: float = 600.0) -> Retention:
    """The job with the default TTLs (24 h, 7 days) on `clock`."""
    return Retention(store, idempotency_ttl=DAY, task_retention=7 * DAY, interval=interval, clock=clock)


def _task(task_id: str, status: TaskStatus, updated_at: float) -> TaskRecord:
    return TaskRecord(
        id=task_id,
        kind="llm_batch",
        status=status,
        payload={"prompts": ["你好"]},
        owner="w0",
        created_at=updated_at,
        updated_at=updated_at,
    )


async def _act(store: AnyStore, key: str, at: float) -> None:
    record = await store.get_player("p1")
    assert record is not None
    await store.commit_action(dataclasses.replace(next_action(record, key=key), created_at=at))


async def test_a_pass_forgets_old_answers_and_finished_tasks_and_keeps_the_log(store: AnyStore) -> None:
    await store.create_player(make_state(), "hash")
    await _act(store, "old", START - DAY - 1)
    await _act(store, "fresh", START - DAY + 60)
    await store.create_task(_task("done-old", "done", START - 8 * DAY))
    await store.create_task(_task("failed-old", "failed", START - 8 * DAY))
    await store.create_task(_task("done-fresh", "done", START - 6 * DAY))
    await store.create_task(_task("pending-old", "pending", START - 30 * DAY))  # unfinished work is never purged
    await store.create_task(_task("running-old", "running", START - 30 * DAY))

    with structlog.testing.capture_logs() as logs:
        counts = await retention(store, WallClock()).run_once()

    assert counts == PurgeCounts(idempotency_keys=1, tasks=2)
    assert await store.get_idempotent("p1", "old") is None
    assert await store.get_idempotent("p1", "fresh") is not None
    assert [await store.get_task(i) is None for i in ("done-old", "failed-old", "done-fresh")] == [True, True, False]
    assert await store.get_task("pending-old") is not None and await store.get_task("running-old") is not None
    assert [entry.seq for entry in await store.action_log("p1")] == [1, 2]  # the replay source stays whole
    assert [(e["event"], e["idempotency_keys"], e["tasks"]) for e in logs if e["event"] == "retention_purged"] == [
        ("retention_purged", 1, 2)
    ]


async def test_an_answer_expires_once_the_clock_passes_its_ttl(store: AnyStore) -> None:
    await store.create_player(make_state(), "hash")
    await _act(store, "k", START)
    clock = WallClock()
    job = retention(store, clock, interval=1)

    clock.now = START + DAY - 1
    assert await job.run_once() == PurgeCounts(idempotency_keys=0, tasks=0)
    assert await store.get_idempotent("p1", "k") is not None
    clock.now = START + DAY + 1
    assert await job.run_once() == PurgeCounts(idempotency_keys=1, tasks=0)
    assert await store.get_idempotent("p1", "k") is None


async def test_workers_share_one_pass_per_interval(backend: Backend) -> None:
    """Two workers (two store connections): the second skips while the first's pass is fresh, purges after."""
    first, second = await backend.open(), await backend.open()
    try:
        clock = WallClock()
        await first.create_task(_task("t1", "done", START - 8 * DAY))
        one, two = retention(first, clock), retention(second, clock)

        assert await one.run_once() == PurgeCounts(idempotency_keys=0, tasks=1)
        clock.now += 599
        assert await two.run_once() is None  # the other worker purged within the interval
        await first.create_task(_task("t2", "done", START - 8 * DAY))
        clock.now += 2
        assert await two.run_once() == PurgeCounts(idempotency_keys=0, tasks=1)
        mark = await first.get_setting(LAST_PASS_KEY)
        assert mark is not None and float(mark.value) == clock.now
    finally:
        await first.close()
        await second.close()


async def test_passes_at_once_from_several_workers_purge_each_row_once(backend: Backend) -> None:
    stores = [await backend.open() for _ in range(3)]
    try:
        for i in range(20):
            await stores[0].create_task(_task(f"t{i}", "done", START - 8 * DAY))
        results = await asyncio.gather(*(retention(s, WallClock()).run_once() for s in stores))
        purged = sum(counts.tasks for counts in results if counts is not None)
        assert purged == 20
        assert [await stores[0].get_task(f"t{i}") for i in range(20)] == [None] * 20
    finally:
        for store in stores:
            await store.close()


async def test_a_mark_that_is_not_a_time_does_not_stop_the_pass(store: AnyStore) -> None:
    await store.set_setting(LAST_PASS_KEY, "garbled")
    await store.create_task(_task("t1", "done", START - 8 * DAY))
    assert await retention(store, WallClock()).run_once() == PurgeCounts(idempotency_keys=0, tasks=1)


async def test_the_loop_runs_a_pass_then_waits_the_interval_and_survives_an_unreachable_store(
    backend: Backend,
) -> None:
    store = await backend.open()
    await store.create_task(_task("t1", "done", START - 8 * DAY))
    waits: list[float] = []
    release = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await release.wait()
        release.clear()

    job = Retention(store, idempotency_ttl=DAY, task_retention=7 * DAY, interval=600, clock=WallClock(), sleep=sleep)
    await job.start()
    try:
        await wait_until(lambda: len(waits) == 1, "the first pass")
        assert waits == [600] and await store.get_task("t1") is None
        await store.close()  # the store goes away: the next pass fails, logs, and the loop waits again
        with structlog.testing.capture_logs() as logs:
            release.set()
            await wait_until(lambda: len(waits) == 2, "the second wait")
        assert [entry["event"] for entry in logs] == ["retention_failed"]
    finally:
        await job.stop()
        await job.stop()  # idempotent
