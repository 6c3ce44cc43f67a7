"""The kill switch: a 401/402 is counted at once and stores mode `off` for every worker, from any thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from xianxia.control.killswitch import KillSwitch
from xianxia.control.mode import ModeSwitch
from xianxia.store.base import ChangeNote, Precondition, SettingChange, SettingRecord, StoreUnavailable
from xianxia.store.sqlite import SQLiteStore


class Seen:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def llm_switched_off(self, status: str) -> None:
        self.statuses.append(status)


class BrokenStore(SQLiteStore):
    """A real store whose writes fail (the database went down with the upstream)."""

    async def set_setting(self, key: str, value: str) -> SettingRecord:
        raise StoreUnavailable("database is down")

    async def change_setting(
        self, key: str, value: str, note: ChangeNote, *, only_if: Precondition | None = None, at: float | None = None
    ) -> SettingChange | None:
        raise StoreUnavailable("database is down")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "k.db")
    await opened.open()
    yield opened
    await opened.close()


def switch(store: SQLiteStore) -> ModeSwitch:
    return ModeSwitch(store, "async", llm_available=True)


async def test_a_trip_stores_off_for_every_worker_and_is_counted(store: SQLiteStore) -> None:
    modes, seen = switch(store), Seen()
    kill = KillSwitch(modes, observer=seen)
    kill.bind(asyncio.get_running_loop())
    kill.trip("DeepSeek account balance exhausted (402)")
    await asyncio.sleep(0)  # the write is scheduled on the loop, not done inside `trip`
    assert kill.pending == 1
    await kill.settle()

    assert seen.statuses == ["402"]
    assert (modes.requested, modes.state.changed_by) == ("off", "upstream")
    other_worker = switch(store)
    await other_worker.refresh()
    assert other_worker.requested == "off" and "402" in other_worker.state.reason


async def test_a_trip_from_another_thread_is_written_on_the_loop(store: SQLiteStore) -> None:
    modes, seen = switch(store), Seen()
    kill = KillSwitch(modes, observer=seen)
    kill.bind(asyncio.get_running_loop())
    worker = threading.Thread(target=kill.trip, args=("DeepSeek API key rejected (401)",))
    worker.start()
    await asyncio.to_thread(worker.join)
    await kill.aclose()  # finishes the switch-off the thread scheduled
    assert seen.statuses == ["401"]
    assert modes.requested == "off"


async def test_before_serving_a_trip_is_only_counted(store: SQLiteStore) -> None:
    modes, seen = switch(store), Seen()
    kill = KillSwitch(modes, observer=seen)
    with capture_logs() as logs:
        kill.trip("DeepSeek API key rejected (401)")
    await kill.settle()
    assert seen.statuses == ["401"] and kill.pending == 0
    assert modes.requested == "async"
    assert [entry["event"] for entry in logs] == ["llm_kill_switch_unbound"]


async def test_after_close_nothing_more_is_written(store: SQLiteStore) -> None:
    modes = switch(store)
    kill = KillSwitch(modes)
    kill.bind(asyncio.get_running_loop())
    await kill.aclose()
    kill.trip("DeepSeek API key rejected (401)")
    await asyncio.sleep(0)
    assert kill.pending == 0 and modes.requested == "async"


async def test_a_store_failure_is_logged_not_raised(tmp_path: Path) -> None:
    store = BrokenStore(tmp_path / "b.db")
    await store.open()
    try:
        modes = switch(store)
        kill = KillSwitch(modes)
        kill.bind(asyncio.get_running_loop())
        with capture_logs() as logs:
            kill.trip("DeepSeek API key rejected (401)")
            await kill.aclose()
    finally:
        await store.close()
    assert modes.requested == "async"  # nothing was stored, and this worker's client latch stays shut
    assert "llm_mode_switch_failed" in [entry["event"] for entry in logs]
