"""The Celery backend's pieces: its settings, the worker's event loop, the task as Celery runs it, the app's queue."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, signals
from celery.app.utils import find_app

from tests.support.celery_worker import REDIS_URL, forget_broker_keys, require_redis
from tests.web.llm_upstream import BASE_URL, Upstream
from xianxia.config import Settings
from xianxia.store.base import Store, TaskRecord
from xianxia.store.factory import create_store
from xianxia.tasks.batch import ResumableBatch, TaskHeldElsewhere
from xianxia.tasks.celery_app import BATCH_TASK, LoopRuntime, celery_config, create_celery
from xianxia.tasks.celery_queue import CeleryTaskQueue
from xianxia.web.app import create_app
from xianxia.web.services import Services
from xianxia.worker import WorkerServices


def broker_settings(tmp_path: Path, **fields: Any) -> Settings:
    prefix = f"test-celery-{secrets.token_hex(4)}"
    return Settings(
        **{
            "database_url": f"sqlite:///{tmp_path / 'tasks.db'}",
            "log_level": "WARNING",
            "task_broker": REDIS_URL,
            "task_queue": f"{prefix}-queue",
            "redis_prefix": prefix,
            "deepseek_api_key": "sk-test",
            "deepseek_base_url": BASE_URL,
            **fields,
        }
    )


def test_tasks_are_acknowledged_late_requeued_when_a_worker_dies_and_fetched_one_at_a_time(tmp_path: Path) -> None:
    config = celery_config(broker_settings(tmp_path, task_visibility_timeout=40))

    assert (config["task_acks_late"], config["task_reject_on_worker_lost"]) == (True, True)
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_url"] == config["result_backend"] == REDIS_URL
    options = config["broker_transport_options"]
    assert options["visibility_timeout"] == 40 and options["unacked_restore_interval"] == 10
    assert options["unacked_mutex_expire"] == 10  # kombu: 300 s; a worker killed holding it blocks restores
    assert options["global_keyprefix"] == config["result_backend_transport_options"]["global_keyprefix"]
    assert options["global_keyprefix"].startswith("test-celery-")


def test_without_a_broker_there_is_no_celery_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="XIANXIA_TASK_BROKER is not set"):
        celery_config(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))


def test_a_broker_that_is_not_redis_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        Settings(task_broker="amqp://guest@localhost//")


class Recorder:
    """A worker context that records its life and the loop it ran on."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.loops: list[asyncio.AbstractEventLoop] = []

    @property
    def batch(self) -> ResumableBatch:
        raise NotImplementedError

    async def start(self) -> None:
        self.loops.append(asyncio.get_running_loop())
        self.events.append("start")

    async def aclose(self) -> None:
        self.events.append("close")


async def _loop_and_thread() -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


def test_the_worker_runs_every_task_on_one_loop_of_its_own_and_closes_it_cleanly() -> None:
    recorder = Recorder()
    runtime = LoopRuntime(lambda: recorder)

    first_loop, thread = runtime.run(_loop_and_thread())
    second_loop, _ = runtime.run(_loop_and_thread())
    runtime.on_process_init()  # already started: nothing more opens
    runtime.on_shutdown()
    runtime.close()  # idempotent

    assert first_loop is second_loop is recorder.loops[0]
    assert thread == "xianxia-task-loop" != threading.current_thread().name
    assert recorder.events == ["start", "close"]
    assert first_loop.is_closed()


def test_a_worker_whose_services_fail_to_open_leaves_no_loop_behind() -> None:
    class Broken(Recorder):
        async def start(self) -> None:
            self.loops.append(asyncio.get_running_loop())
            raise OSError("database unreachable")

    broken = Broken()
    runtime = LoopRuntime(lambda: broken)

    with pytest.raises(OSError, match="database unreachable"):
        runtime.start()

    assert broken.loops[0].is_closed()
    runtime.close()  # nothing left to close


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def worker_app(tmp_path: Path, upstream: Upstream) -> Iterator[tuple[Celery, Settings]]:
    """The worker's Celery app as `xianxia.worker` builds it, over a test upstream; the task is run in place."""
    settings = broker_settings(tmp_path, task_stale_seconds=30.0)

    def build() -> WorkerServices:
        services = Services.build(settings, llm_transport=upstream.transport())
        batch = ResumableBatch(
            services.store, services.gateway, owner="w-test", stale_after=30.0, heartbeat_seconds=1.0
        )
        return WorkerServices(services, batch)

    yield create_celery(settings, build), settings


async def _with_store(settings: Settings, action: Any) -> Any:
    store = create_store(settings.database_url)
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def test_the_celery_task_answers_a_stored_batch_and_returns_its_outcome(
    worker_app: tuple[Celery, Settings], upstream: Upstream
) -> None:
    app, settings = worker_app

    record = TaskRecord(id="t-eager", kind="llm_batch", status="pending", payload={"prompts": ["甲", "乙"]})
    asyncio.run(_with_store(settings, lambda store: store.create_task(record)))
    task = app.tasks[BATCH_TASK]
    try:
        first = task.apply(args=["t-eager"]).get()
        again = task.apply(args=["t-eager"]).get()  # a redelivery of a finished task
    finally:
        _close_runtime(app)

    assert first == {"task_id": "t-eager", "status": "done", "called": 2}
    assert again == {"task_id": "t-eager", "status": "done", "called": 0}
    assert len(upstream.requests) == 2
    stored = asyncio.run(_with_store(settings, lambda store: store.get_task("t-eager")))
    assert [item["text"] for item in stored.result] == ["道友请了：甲", "道友请了：乙"]


def test_a_task_held_by_a_live_worker_is_retried_later_not_run_twice(
    worker_app: tuple[Celery, Settings], upstream: Upstream
) -> None:
    app, settings = worker_app

    record = TaskRecord(id="t-held", kind="llm_batch", status="pending", payload={"prompts": ["甲"]})

    async def held_by_another(store: Store) -> None:
        await store.create_task(record)
        await store.update_task("t-held", "running", owner="w-other")

    asyncio.run(_with_store(settings, held_by_another))
    try:
        result = app.tasks[BATCH_TASK].apply(args=["t-held"])
    finally:
        _close_runtime(app)

    # Run in place, Celery re-raises a retry's reason; under a worker the same call schedules the retry.
    assert result.state == "FAILURE" and isinstance(result.result, TaskHeldElsewhere)
    assert upstream.requests == []


def _close_runtime(app: Celery) -> None:
    signals.worker_shutdown.send(sender=None)  # what a stopping worker sends: services and loop closed


@pytest.fixture
async def queue_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = create_store(f"sqlite:///{tmp_path / 'queue.db'}")
    await store.open()
    yield store
    await store.close()


class Finished:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def task_finished(self, status: str) -> None:
        self.statuses.append(status)


async def test_the_queue_follows_its_tasks_for_the_metrics_until_they_finish(
    tmp_path: Path, queue_store: Store
) -> None:
    require_redis()
    settings = broker_settings(tmp_path)
    observer = Finished()
    clock = [1000.0]
    queue = CeleryTaskQueue(
        queue_store, create_celery(settings), queue=settings.task_queue, observer=observer, clock=lambda: clock[0]
    )
    await queue.start()
    try:
        first = await queue.submit("llm_batch", {"prompts": ["甲"]})
        clock[0] = 1010.0
        second = await queue.submit("llm_batch", {"prompts": ["乙"]})
        clock[0] = 1030.0
        assert queue.snapshot() == (2, 0, 30.0)

        await queue_store.update_task(first.id, "running", owner="w1")  # as workers would
        await queue_store.update_task(second.id, "failed", owner="w1", error="boom")
        await queue.refresh()
        assert queue.snapshot() == (0, 1, 30.0)
        assert observer.statuses == ["failed"]

        await queue_store.update_task(first.id, "done", owner="w1", result=[])
        await queue.refresh()
        assert queue.snapshot() == (0, 0, 0.0)
        assert observer.statuses == ["failed", "done"]
        with pytest.raises(ValueError, match="unknown task kind"):
            await queue.submit("mystery", {})
    finally:
        await queue.stop()
        forget_broker_keys({"XIANXIA_REDIS_PREFIX": settings.redis_prefix})
    stored = await queue_store.get_task(first.id)
    assert stored is not None and stored.owner == "w1"


async def test_a_broker_that_is_down_answers_503_and_the_task_is_stored_failed(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path, task_broker="redis://127.0.0.1:1/0", llm_open=True)
    app = create_app(settings, llm_transport=Upstream().transport())
    async with app.test_app() as running:
        client = running.app.test_client()  # type: ignore[attr-defined]
        response = await client.post("/api/llm/batch", json={"prompts": ["甲"], "mode": "task"})
        body = await response.get_json()

    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert body["error"]["code"] == "task_queue_unavailable"
    with sqlite3.connect(tmp_path / "tasks.db") as conn:
        assert conn.execute("SELECT status, error FROM tasks").fetchall() == [
            ("failed", "the task broker is unreachable")
        ]


def test_the_worker_module_builds_its_app_from_the_environment_when_celery_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import xianxia.worker

    monkeypatch.setenv("XIANXIA_TASK_BROKER", REDIS_URL)
    monkeypatch.setenv("XIANXIA_TASK_QUEUE", "from-env")
    xianxia.worker._app_from_environment.cache_clear()
    try:
        app = find_app("xianxia.worker")  # what `celery -A xianxia.worker` does
        assert app is xianxia.worker.app
        assert app.conf.task_default_queue == "from-env"
        assert BATCH_TASK in app.tasks
        with pytest.raises(AttributeError):
            xianxia.worker.nothing  # noqa: B018
    finally:
        xianxia.worker._app_from_environment.cache_clear()
