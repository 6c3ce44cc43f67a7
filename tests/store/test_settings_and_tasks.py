"""Settings (the shared LLM mode switch) and batch tasks that any worker can claim."""

from __future__ import annotations

import asyncio

from tests.store.conftest import AnyStore, Backend
from xianxia.store.base import TaskRecord, TaskStatus


def _task(task_id: str, *, status: TaskStatus = "pending", updated_at: float = 100.0, owner: str = "w0") -> TaskRecord:
    return TaskRecord(
        id=task_id,
        kind="llm_batch",
        status=status,
        payload={"prompts": ["你好", "修炼之道"]},
        owner=owner,
        created_at=updated_at,
        updated_at=updated_at,
    )


async def test_settings_are_absent_until_set_and_overwritten_in_place(store: AnyStore) -> None:
    assert await store.get_setting("llm_mode") is None

    first = await store.set_setting("llm_mode", "sync")
    second = await store.set_setting("llm_mode", "off")

    got = await store.get_setting("llm_mode")
    assert got == second
    assert (got.key, got.value) == ("llm_mode", "off")
    assert second.updated_at >= first.updated_at > 0


async def test_task_is_stored_updated_and_read_back(store: AnyStore) -> None:
    await store.create_task(_task("t1"))
    assert await store.get_task("t1") == _task("t1")
    assert await store.get_task("missing") is None

    await store.update_task("t1", "done", owner="w1", result=[{"text": "道可道"}])

    done = await store.get_task("t1")
    assert done is not None
    assert (done.status, done.owner, done.result, done.error) == ("done", "w1", [{"text": "道可道"}], None)
    assert done.updated_at > 100.0
    await store.update_task("t1", "failed", owner="w1", error="ReadTimeout: 上游超时")
    failed = await store.get_task("t1")
    assert failed is not None
    assert (failed.status, failed.error, failed.result) == ("failed", "ReadTimeout: 上游超时", None)


async def test_claim_takes_stale_pending_and_running_tasks_only(store: AnyStore) -> None:
    await store.create_task(_task("stale-pending", updated_at=100.0))
    await store.create_task(_task("stale-running", status="running", updated_at=101.0))
    await store.create_task(_task("fresh", status="running", updated_at=500.0))
    await store.create_task(_task("finished", status="done", updated_at=100.0))

    claimed = await store.claim_tasks("w2", stale_before=200.0)

    assert [t.id for t in claimed] == ["stale-pending", "stale-running"]
    assert [t.status for t in claimed] == ["pending", "running"]
    assert all(t.owner == "w2" and t.updated_at > 200.0 for t in claimed)
    assert await store.claim_tasks("w3", stale_before=200.0) == []  # claiming refreshed them


async def test_touched_tasks_are_not_reclaimed(store: AnyStore) -> None:
    await store.create_task(_task("mine", status="running", owner="w1"))
    await store.create_task(_task("theirs", status="running", owner="w9"))

    await store.touch_tasks("w1", ["mine", "theirs"])

    claimed = await store.claim_tasks("w2", stale_before=200.0)
    assert [t.id for t in claimed] == ["theirs"]


async def test_concurrent_claims_take_each_task_once(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        for i in range(40):
            await first.create_task(_task(f"t{i:02}", updated_at=100.0 + i))

        claims = await asyncio.gather(
            *(store.claim_tasks(f"w{n}", stale_before=1000.0, limit=7) for n, store in enumerate([first, second] * 4))
        )

        ids = [task.id for claim in claims for task in claim]
        assert sorted(ids) == [f"t{i:02}" for i in range(40)]
        assert len(ids) == len(set(ids))
    finally:
        await first.close()
        await second.close()


async def test_one_task_is_claimed_when_pending_held_by_the_same_owner_or_gone_stale(store: AnyStore) -> None:
    await store.create_task(_task("pending", updated_at=500.0, owner=""))
    await store.create_task(_task("mine", status="running", updated_at=500.0, owner="w1"))
    await store.create_task(_task("stale", status="running", updated_at=100.0, owner="w9"))
    await store.create_task(_task("live", status="running", updated_at=500.0, owner="w9"))
    await store.create_task(_task("done", status="done", updated_at=100.0))

    claimed = {
        task_id: await store.claim_task(task_id, "w1", stale_before=200.0)
        for task_id in ("pending", "mine", "stale", "live", "done", "missing")
    }

    assert {task_id for task_id, record in claimed.items() if record is not None} == {"pending", "mine", "stale"}
    assert all(r.status == "running" and r.owner == "w1" for r in claimed.values() if r is not None)
    live = await store.get_task("live")
    assert live is not None and live.owner == "w9"  # a live owner keeps its task


async def test_each_prompts_first_saved_answer_is_kept_and_purged_with_its_task(store: AnyStore) -> None:
    await store.create_task(_task("t1", status="done"))
    await store.create_task(_task("t2"))
    await store.save_task_result("t1", 1, {"text": "乙"})
    await store.save_task_result("t1", 0, {"text": "甲"})
    await store.save_task_result("t1", 0, {"text": "another delivery's answer"})
    await store.save_task_result("t2", 0, {"error": {"code": "llm_timeout", "message": "slow"}})

    assert await store.task_results("t1") == {0: {"text": "甲"}, 1: {"text": "乙"}}
    assert await store.task_statuses(["t1", "t2", "gone"]) == {"t1": "done", "t2": "pending"}
    assert await store.task_statuses([]) == {}

    await store.purge_expired(idempotency_before=0.0, tasks_before=1e12)

    assert await store.task_results("t1") == {}  # its answers went with it
    assert await store.task_results("t2") == {0: {"error": {"code": "llm_timeout", "message": "slow"}}}
