"""Setting changes with their audit entry, in one transaction; conditional changes made once among many writers."""

from __future__ import annotations

import asyncio

from tests.store.conftest import AnyStore, Backend
from xianxia.store.base import ChangeNote, Precondition

MANUAL = ChangeNote(changed_by="admin", cause="manual", reason="演练", origin="127.0.0.1 request r1")


async def test_a_change_stores_the_value_and_its_audit_entry(store: AnyStore) -> None:
    first = await store.change_setting("llm_mode", '{"mode": "sync"}', MANUAL)
    assert first is not None
    assert await store.get_setting("llm_mode") == first.setting
    figures = {"calls": 40, "errors": 40, "error_rate": 1.0, "说明": "上游故障"}
    note = ChangeNote(changed_by="rollback", cause="error_rate", reason="too many errors", figures=figures)
    second = await store.change_setting("llm_mode", '{"mode": "off"}', note)
    assert second is not None

    newest, oldest = await store.audit_log()
    assert newest == second.audit and oldest == first.audit
    assert (oldest.old_value, oldest.new_value, oldest.changed_by) == (None, '{"mode": "sync"}', "admin")
    assert (oldest.reason, oldest.origin, oldest.figures) == ("演练", "127.0.0.1 request r1", None)
    assert (newest.old_value, newest.new_value, newest.cause) == ('{"mode": "sync"}', '{"mode": "off"}', "error_rate")
    assert newest.figures == figures
    assert newest.at == second.setting.updated_at >= oldest.at


async def test_the_audit_log_is_newest_first_bounded_and_filtered_by_key(store: AnyStore) -> None:
    for n in range(5):
        await store.change_setting("llm_mode", f'{{"n": {n}}}', MANUAL)
    await store.change_setting("other", "x", MANUAL)

    latest = await store.audit_log(3, key="llm_mode")
    assert [entry.new_value for entry in latest] == ['{"n": 4}', '{"n": 3}', '{"n": 2}']
    assert [entry.key for entry in await store.audit_log(1)] == ["other"]
    assert len(await store.audit_log()) == 6


async def test_a_failed_precondition_writes_nothing(store: AnyStore) -> None:
    await store.change_setting("llm_mode", "async", MANUAL)
    assert await store.change_setting("llm_mode", "off", MANUAL, only_if=Precondition("sync")) is None
    assert await store.change_setting("llm_mode", "off", MANUAL, only_if=Precondition(None)) is None
    assert (await store.get_setting("llm_mode")).value == "async"  # type: ignore[union-attr]
    assert len(await store.audit_log()) == 1

    won = await store.change_setting("llm_mode", "off", MANUAL, only_if=Precondition("async"))
    assert won is not None and won.audit.old_value == "async"


async def test_of_many_workers_switching_off_from_one_value_exactly_one_wins(backend: Backend) -> None:
    workers = [await backend.open() for _ in range(4)]
    try:
        for only_if in (Precondition(None), Precondition("async")):  # nothing stored yet, then a stored value
            if only_if.value is not None:
                await workers[0].change_setting("llm_mode", "async", MANUAL)
            note = ChangeNote(changed_by="rollback", cause="error_rate", reason="tripped")
            results = await asyncio.gather(
                *(
                    worker.change_setting("llm_mode", f"off by {n}", note, only_if=only_if)
                    for n, worker in enumerate(workers)
                    for _ in range(3)
                )
            )
            winners = [result for result in results if result is not None]
            assert len(winners) == 1
            stored = await workers[1].get_setting("llm_mode")
            assert stored is not None and stored.value == winners[0].setting.value
            assert (await workers[2].audit_log(1))[0] == winners[0].audit
        assert [entry.cause for entry in await workers[3].audit_log()] == ["error_rate", "manual", "error_rate"]
    finally:
        for worker in workers:
            await worker.close()
