"""Runs queued batch tasks; heartbeats its own and adopts those a dead worker left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from xianxia.store.base import Store, StoreError, TaskRecord

log = structlog.get_logger(__name__)


class TaskQueueFull(Exception):
    """This process already runs as many tasks as it may; try again later."""


#: Runs a task's payload and returns its JSON result.
TaskHandler = Callable[[dict[str, Any]], Awaitable[Any]]


class TaskObserver(Protocol):
    """Receives the runner's counts; the metrics layer implements it."""

    def task_finished(self, status: str) -> None: ...


class TaskQueue(Protocol):
    """Where the API submits tasks: this process (`TaskRunner`) or Celery workers (`CeleryTaskQueue`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, kind: str, payload: dict[str, Any]) -> TaskRecord: ...

    def snapshot(self) -> tuple[int, int, float]: ...


class TaskRunner:
    """Executes tasks of known kinds in this process, with heartbeats so others can tell it is alive."""

    def __init__(
        self,
        store: Store,
        handlers: dict[str, TaskHandler],
        *,
        heartbeat_seconds: float = 5.0,
        stale_after: float = 30.0,
        max_running: int = 64,
        clock: Callable[[], float] = time.time,
        observer: TaskObserver | None = None,
    ) -> None:
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._store = store
        self._handlers = handlers
        self._heartbeat_seconds = heartbeat_seconds
        self._stale_after = stale_after
        self._max_running = max_running
        self._clock = clock
        self._observer = observer
        self._running: dict[str, asyncio.Task[None]] = {}
        self._started_at: dict[str, float] = {}  # created_at of every task held here
        self._executing: set[str] = set()  # those whose handler has begun
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Adopt orphaned tasks now, then heartbeat and look for more periodically."""
        await self.adopt_orphans()
        self._loop_task = asyncio.create_task(self._maintain(), name="task-runner")

    async def stop(self) -> None:
        """Stop maintenance and cancel unfinished work; another worker adopts it once it goes stale."""
        tasks = [t for t in (self._loop_task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._running.clear()
        self._started_at.clear()
        self._executing.clear()
        self._loop_task = None

    async def submit(self, kind: str, payload: dict[str, Any]) -> TaskRecord:
        """Store a new task and start it here."""
        if kind not in self._handlers:
            raise ValueError(f"unknown task kind {kind!r}")
        if len(self._running) >= self._max_running:
            raise TaskQueueFull(f"{len(self._running)} tasks already running here; retry later")
        now = self._clock()
        record = TaskRecord(
            id=secrets.token_hex(12),
            kind=kind,
            status="pending",
            payload=payload,
            owner=self.owner,
            created_at=now,
            updated_at=now,
        )
        await self._store.create_task(record)
        self._start(record)
        return record

    async def adopt_orphans(self) -> list[str]:
        """Claim tasks left pending or running by an owner that stopped heartbeating, and run them."""
        room = self._max_running - len(self._running)
        if room <= 0:
            return []
        claimed = await self._store.claim_tasks(self.owner, stale_before=self._clock() - self._stale_after, limit=room)
        for record in claimed:
            log.warning("task_adopted", task_id=record.id, previous_status=record.status)
            self._start(record)
        return [record.id for record in claimed]

    async def wait_idle(self) -> None:
        """Wait until every task started here has finished (for tests and draining)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def snapshot(self) -> tuple[int, int, float]:
        """(queued, running, age in seconds of the oldest) of the tasks held here."""
        running = len(self._executing)
        queued = len(self._started_at) - running
        oldest = min(self._started_at.values(), default=None)
        return queued, running, 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def _start(self, record: TaskRecord) -> None:
        task = asyncio.create_task(self._run(record), name=f"task-{record.id}")
        self._running[record.id] = task
        self._started_at[record.id] = record.created_at
        task.add_done_callback(lambda _: self._forget(record.id))

    def _forget(self, task_id: str) -> None:
        self._running.pop(task_id, None)
        self._started_at.pop(task_id, None)
        self._executing.discard(task_id)

    async def _run(self, record: TaskRecord) -> None:
        await self._store.update_task(record.id, "running", owner=self.owner)
        self._executing.add(record.id)
        try:
            result = await self._handlers[record.kind](record.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("task_failed", task_id=record.id)
            await self._store.update_task(record.id, "failed", owner=self.owner, error=f"{type(exc).__name__}: {exc}")
            self._finished("failed")
            return
        await self._store.update_task(record.id, "done", owner=self.owner, result=result)
        self._finished("done")
        log.info("task_done", task_id=record.id, kind=record.kind)

    def _finished(self, status: str) -> None:
        if self._observer is not None:
            self._observer.task_finished(status)

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                if self._running:
                    await self._store.touch_tasks(self.owner, list(self._running))
                await self.adopt_orphans()
            except StoreError as exc:
                log.warning("task_maintenance_failed", error=str(exc))
