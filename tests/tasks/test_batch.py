"""The redelivery rule: each answer is saved as it arrives; a redelivered task asks only for prompts without one."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.llm_upstream import BASE_URL, Upstream
from xianxia.config import Settings
from xianxia.store.base import StoreUnavailable, TaskRecord
from xianxia.store.sqlite import SQLiteStore
from xianxia.tasks.batch import ResumableBatch, TaskHeldElsewhere
from xianxia.web.services import Services

PROMPTS = ["甲", "乙", "丙", "丁", "戊"]


class FlakyStore(SQLiteStore):
    """Loses its connection when saving the answer to one chosen prompt (until told otherwise)."""

    fail_on: int | None = None

    async def save_task_result(self, task_id: str, index: int, result: Any) -> None:
        if index == self.fail_on:
            raise StoreUnavailable("connection lost")
        await super().save_task_result(task_id, index, result)


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def services(tmp_path: Path, upstream: Upstream) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tasks.db'}",
        log_level="WARNING",
        deepseek_api_key="sk-test",
        deepseek_base_url=BASE_URL,
        llm_max_concurrency=2,
    )
    built = Services.build(settings, store=FlakyStore(tmp_path / "tasks.db"), llm_transport=upstream.transport())
    await built.start()
    yield built
    await built.aclose()


def batch_of(services: Services, owner: str = "worker-2") -> ResumableBatch:
    return ResumableBatch(services.store, services.gateway, owner=owner, stale_after=30.0, heartbeat_seconds=0.05)


async def queued(services: Services, **fields: Any) -> TaskRecord:
    record = TaskRecord(
        **{"id": "t1", "kind": "llm_batch", "status": "pending", "payload": {"prompts": PROMPTS}, **fields}
    )
    await services.store.create_task(record)
    return record


def asked(upstream: Upstream) -> Counter[str]:
    """How often each prompt reached the upstream."""
    return Counter(body["messages"][-1]["content"] for body in upstream.requests)


async def test_a_first_delivery_asks_for_every_prompt_and_saves_each_answer(
    services: Services, upstream: Upstream
) -> None:
    await queued(services)

    outcome = await batch_of(services).run("t1")

    assert (outcome.status, outcome.called) == ("done", 5)
    assert asked(upstream) == Counter(PROMPTS)
    saved = await services.store.task_results("t1")
    task = await services.store.get_task("t1")
    assert task is not None and task.status == "done" and task.owner == "worker-2"
    assert task.result == [saved[i] for i in range(5)] == [{"text": f"道友请了：{p}"} for p in PROMPTS]


async def test_a_redelivered_task_asks_only_for_prompts_with_no_saved_answer(
    services: Services, upstream: Upstream
) -> None:
    # A worker that died had saved the answers to 甲 and 丁, and heartbeated last long ago.
    await queued(services, status="running", owner="worker-1", created_at=1.0, updated_at=1.0)
    await services.store.save_task_result("t1", 0, {"text": "saved before the crash: 甲"})
    await services.store.save_task_result("t1", 3, {"text": "saved before the crash: 丁"})

    outcome = await batch_of(services).run("t1")

    assert (outcome.status, outcome.called) == ("done", 3)
    assert asked(upstream) == Counter(["乙", "丙", "戊"])
    task = await services.store.get_task("t1")
    assert task is not None and task.result == [
        {"text": "saved before the crash: 甲"},
        {"text": "道友请了：乙"},
        {"text": "道友请了：丙"},
        {"text": "saved before the crash: 丁"},
        {"text": "道友请了：戊"},
    ]


async def test_an_answer_the_store_did_not_take_is_asked_again_and_no_other(
    services: Services, upstream: Upstream
) -> None:
    await queued(services)
    store = services.store
    assert isinstance(store, FlakyStore)
    store.fail_on = 2

    with pytest.raises(StoreUnavailable):  # the delivery fails, so it is not acknowledged
        await batch_of(services, owner="worker-1").run("t1")
    saved_before = set(await store.task_results("t1"))
    first = asked(upstream)
    store.fail_on = None
    await services.store.update_task("t1", "running", owner="worker-1")  # worker-1 retries its own delivery
    outcome = await batch_of(services, owner="worker-1").run("t1")

    assert outcome.status == "done"
    assert 2 not in saved_before and first["丙"] == 1
    total = asked(upstream)
    # A prompt saved by the first delivery is not asked again; every other one is asked once by the second, so a
    # prompt whose answer was lost with the first delivery (丙, and any then in flight) is asked once more, no more.
    assert all(first[p] <= 1 for p in PROMPTS)
    assert total == Counter({p: first[p] + (0 if i in saved_before else 1) for i, p in enumerate(PROMPTS)})
    assert total["丙"] == 2
    assert outcome.called == len(PROMPTS) - len(saved_before)


async def test_a_duplicate_delivery_of_a_finished_task_asks_nothing(services: Services, upstream: Upstream) -> None:
    await queued(services)
    await batch_of(services).run("t1")
    upstream.requests.clear()

    again = await batch_of(services, owner="worker-3").run("t1")

    assert (again.status, again.called, again.already_finished) == ("done", 0, True)
    assert upstream.requests == []
    assert (await batch_of(services).run("never-queued")).status == "missing"


async def test_a_task_a_live_worker_holds_is_left_to_it(services: Services, upstream: Upstream) -> None:
    await queued(services)
    await services.store.update_task("t1", "running", owner="worker-1")  # heartbeated just now

    with pytest.raises(TaskHeldElsewhere):
        await batch_of(services).run("t1")

    task = await services.store.get_task("t1")
    assert task is not None and (task.status, task.owner) == ("running", "worker-1")
    assert upstream.requests == []


async def test_a_batch_fails_whole_when_the_llm_is_off_and_items_fail_alone(
    services: Services, upstream: Upstream
) -> None:
    await queued(services)
    await services.modes.set("off", changed_by="test")

    outcome = await batch_of(services).run("t1")

    task = await services.store.get_task("t1")
    assert outcome.status == "failed" and task is not None and task.error is not None
    assert task.error.startswith("LLMUnavailable")
    assert upstream.requests == []


async def test_a_malformed_payload_fails_the_task(services: Services) -> None:
    await services.store.create_task(TaskRecord(id="bad", kind="llm_batch", status="pending", payload={"prompts": 3}))

    outcome = await batch_of(services).run("bad")

    task = await services.store.get_task("bad")
    assert outcome.status == "failed" and task is not None and "list of prompt strings" in (task.error or "")


async def test_a_failed_prompt_is_saved_as_its_error_and_not_asked_again(
    services: Services, upstream: Upstream
) -> None:
    upstream.status = 400  # refused: not retried, an error item
    await queued(services)

    outcome = await batch_of(services).run("t1")

    task = await services.store.get_task("t1")
    assert outcome.status == "done" and task is not None
    assert [item["error"]["code"] for item in task.result] == ["llm_request_rejected"] * 5
    assert json.dumps(task.result, ensure_ascii=False).count("llm_request_rejected") == 5
