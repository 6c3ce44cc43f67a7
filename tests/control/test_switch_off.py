"""Switching off automatically: once among many workers, with its audit entry, never over an operator's change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xianxia.control.audit import mode_changes
from xianxia.control.mode import ModeSwitch
from xianxia.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "modes.db")
    await opened.open()
    yield opened
    await opened.close()


def worker(store: SQLiteStore) -> ModeSwitch:
    return ModeSwitch(store, "async", llm_available=True)


async def test_of_workers_tripping_together_one_switches_off_and_audits(store: SQLiteStore) -> None:
    workers = [worker(store) for _ in range(5)]
    await workers[0].set("async", changed_by="admin", share=0.25, reason="rollout")
    figures = {"calls": 50, "errors": 9, "error_rate": 0.18}

    results = await asyncio.gather(
        *(w.switch_off(changed_by="rollback", cause="error_rate", reason="18%", figures=figures) for w in workers)
    )

    assert len([result for result in results if result is not None]) == 1
    assert {w.requested for w in workers} == {"off"}
    newest, first = await mode_changes(store)
    assert (newest.changed_by, newest.cause, newest.figures) == ("rollback", "error_rate", figures)
    assert newest.old is not None and (newest.old.mode, newest.old.share) == ("async", 0.25)
    assert newest.new is not None and newest.new.mode == "off"
    assert newest.origin and first.cause == "manual"


async def test_with_nothing_stored_yet_the_first_switch_off_wins(store: SQLiteStore) -> None:
    a, b = worker(store), worker(store)
    won = await a.switch_off(changed_by="upstream", cause="upstream_402", reason="402")
    assert won is not None and won.mode == "off"
    assert await b.switch_off(changed_by="upstream", cause="upstream_402", reason="402") is None
    assert b.requested == "off" and len(await mode_changes(store)) == 1


async def test_a_judgement_on_a_mode_since_changed_by_an_operator_is_dropped(store: SQLiteStore) -> None:
    here, operator = worker(store), worker(store)
    await here.set("async", changed_by="admin", share=0.5)
    judged = here.state  # the window was summed under this mode ...
    await operator.set("async", changed_by="admin", share=0.1, reason="smaller share")  # ... then it changed

    dropped = await here.switch_off(changed_by="rollback", cause="latency_p95", reason="slow", judged=judged)

    assert dropped is None
    assert (here.requested, here.share) == ("async", 0.1)
    assert [change.cause for change in await mode_changes(store)] == ["manual", "manual"]
