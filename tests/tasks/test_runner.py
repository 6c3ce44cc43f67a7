"""Queued tasks live in the store: any process can read them, and a crashed owner's tasks are adopted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from xianxia.store.base import Store, TaskRecord
from xianxia.store.factory import create_store
from xianxia.tasks.runner import TaskQueueFull, TaskRunner


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'tasks.db'}")
    await opened.open()
    yield opened
    await opened.close()


async def echo(payload: dict[str, Any]) -> Any:
    return [prompt.upper() for prompt in payload["prompts"]]


async def broken(payload: dict[str, Any]) -> Any:
    raise RuntimeError("upstream exploded")


async def test_a_submitted_task_runs_and_its_result_is_stored(store: Store) -> None:
    runner = TaskRunner(store, {"echo": echo})
    await runner.start()
    try:
        record = await runner.submit("echo", {"prompts": ["a", "b"]})
        await runner.wait_idle()
    finally:
        await runner.stop()
    stored = await store.get_task(record.id)
    assert stored is not None and stored.status == "done"
    assert stored.result == ["A", "B"]


async def test_a_failing_task_is_marked_failed_with_the_reason(store: Store) -> None:
    runner = TaskRunner(store, {"broken": broken})
    await runner.start()
    try:
        record = await runner.submit("broken", {})
        await runner.wait_idle()
    finally:
        await runner.stop()
    stored = await store.get_task(record.id)
    assert stored is not None and stored.status == "failed"
    assert stored.error is not None and "upstream exploded" in stored.error


async def test_unknown_kinds_are_refused_before_anything_is_stored(store: Store) -> None:
    runner = TaskRunner(store, {"echo": echo})
    with pytest.raises(ValueError, match="unknown task kind"):
        await runner.submit("mine_bitcoin", {})


@pytest.mark.parametrize("status", ["pending", "running"])
async def test_tasks_left_by_a_dead_process_are_adopted_at_start_up(store: Store, status: str) -> None:
    orphan = TaskRecord(
        id=f"orphan-{status}",
        kind="echo",
        status=status,  # type: ignore[arg-type]
        payload={"prompts": ["x"]},
        owner="4242-deadbeef",
        created_at=1.0,
        updated_at=1.0,
    )
    await store.create_task(orphan)
    runner = TaskRunner(store, {"echo": echo}, stale_after=30.0)
    await runner.start()
    try:
        await runner.wait_idle()
    finally:
        await runner.stop()
    stored = await store.get_task(orphan.id)
    assert stored is not None and stored.status == "done" and stored.result == ["X"]
    assert stored.owner == runner.owner


async def test_a_live_owners_task_is_not_taken_over(store: Store) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(payload: dict[str, Any]) -> Any:
        started.set()
        await release.wait()
        return "finished"

    first = TaskRunner(store, {"slow": slow})
    second = TaskRunner(store, {"slow": slow})
    await first.start()
    try:
        record = await first.submit("slow", {})
        await started.wait()
        assert await second.adopt_orphans() == []
        release.set()
        await first.wait_idle()
    finally:
        await first.stop()
    stored = await store.get_task(record.id)
    assert stored is not None and stored.status == "done" and stored.owner == first.owner


async def test_a_full_runner_refuses_new_tasks_instead_of_queueing_without_bound(store: Store) -> None:
    release = asyncio.Event()

    async def wait(payload: dict[str, Any]) -> Any:
        await release.wait()
        return "ok"

    runner = TaskRunner(store, {"wait": wait}, max_running=2)
    await runner.start()
    try:
        await runner.submit("wait", {})
        await runner.submit("wait", {})
        with pytest.raises(TaskQueueFull):
            await runner.submit("wait", {})
        release.set()
        await runner.wait_idle()
        await runner.submit("wait", {})
        await runner.wait_idle()
    finally:
        await runner.stop()


async def test_a_heartbeating_owner_keeps_its_long_task(store: Store) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def long(payload: dict[str, Any]) -> Any:
        started.set()
        await release.wait()
        return "mine"

    owner = TaskRunner(store, {"long": long}, heartbeat_seconds=0.05, stale_after=0.3)
    other = TaskRunner(store, {"long": long}, heartbeat_seconds=60, stale_after=0.3)
    await owner.start()
    try:
        record = await owner.submit("long", {})
        await started.wait()
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.0  # well past stale_after: only the heartbeat keeps the task fresh
        while loop.time() < until:
            assert await other.adopt_orphans() == []
            await asyncio.sleep(0.05)
        release.set()
        await owner.wait_idle()
    finally:
        await owner.stop()
        await other.stop()
    stored = await store.get_task(record.id)
    assert stored is not None and stored.owner == owner.owner and stored.result == "mine"
