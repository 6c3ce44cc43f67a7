"""The app's side of Celery: store a task's row, hand its id to the workers, follow it for the metrics."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import structlog
from celery import Celery

from xianxia.background import stop_task
from xianxia.store.base import Store, StoreError, TaskRecord, TaskStatus
from xianxia.tasks.celery_app import TASK_NAMES
from xianxia.tasks.runner import TaskObserver

log = structlog.get_logger(__name__)


class TaskBrokerUnavailable(Exception):
    """The task broker did not take the task; it is stored as failed and nothing will run it."""


class CeleryTaskQueue:
    """Queues tasks for Celery workers on any machine; the store keeps each task's status and result.

    It follows the tasks this process submitted until they finish, so the task gauges (queued, running, oldest
    age) and the finished counter keep their meaning: summed over workers and instances, each task counts once.
    """

    def __init__(
        self,
        store: Store,
        app: Celery,
        *,
        queue: str,
        refresh_seconds: float = 5.0,
        follow_limit: int = 1000,
        clock: Callable[[], float] = time.time,
        observer: TaskObserver | None = None,
    ) -> None:
        self._store = store
        self._app = app
        self._queue = queue
        self._refresh_seconds = refresh_seconds
        self._follow_limit = follow_limit
        self._clock = clock
        self._observer = observer
        self._followed: dict[str, tuple[float, TaskStatus]] = {}  # id -> (created_at, last status seen)
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._follow(), name="task-follower")

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        await stop_task(task)
        await asyncio.to_thread(self._app.close)  # the broker connection pool

    async def submit(self, kind: str, payload: dict[str, Any]) -> TaskRecord:
        """Store the task as pending, then publish its id; a broker that refuses marks it failed."""
        name = TASK_NAMES.get(kind)
        if name is None:
            raise ValueError(f"unknown task kind {kind!r}")
        now = self._clock()
        record = TaskRecord(
            id=secrets.token_hex(12), kind=kind, status="pending", payload=payload, created_at=now, updated_at=now
        )
        await self._store.create_task(record)  # first: a worker that gets the message always finds the row
        try:
            await asyncio.to_thread(self._publish, name, record.id)
        except Exception as exc:  # kombu and redis raise many types for one meaning: not queued
            log.warning("task_publish_failed", task_id=record.id, error=f"{type(exc).__name__}: {exc}")
            await self._store.update_task(record.id, "failed", owner=None, error="the task broker is unreachable")
            raise TaskBrokerUnavailable("the task broker is unreachable; nothing was queued") from exc
        if len(self._followed) < self._follow_limit:
            self._followed[record.id] = (record.created_at, "pending")
        log.info("task_queued", task_id=record.id, kind=kind, queue=self._queue)
        return record

    def snapshot(self) -> tuple[int, int, float]:
        """(queued, running, age in seconds of the oldest) of the unfinished tasks this process submitted."""
        running = sum(1 for _, status in self._followed.values() if status == "running")
        oldest = min((created for created, _ in self._followed.values()), default=None)
        age = 0.0 if oldest is None else max(0.0, self._clock() - oldest)
        return len(self._followed) - running, running, age

    async def refresh(self) -> None:
        """Read the followed tasks' statuses once; count and forget those that finished (or were purged)."""
        if not self._followed:
            return
        statuses = await self._store.task_statuses(list(self._followed))
        for task_id, (created_at, _) in list(self._followed.items()):
            status = statuses.get(task_id)
            if status in ("pending", "running"):
                self._followed[task_id] = (created_at, status)
                continue
            del self._followed[task_id]
            if status is not None and self._observer is not None:
                self._observer.task_finished(status)

    def _publish(self, name: str, task_id: str) -> None:
        self._app.send_task(name, args=[task_id], task_id=task_id, queue=self._queue, retry=True)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except StoreError as exc:
                log.warning("task_follow_failed", error=str(exc))
