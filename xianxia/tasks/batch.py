"""A batch task that resumes: each prompt's answer is saved as it arrives, so a redelivered task asks only for the rest.

A queue that redelivers (Celery with acks late) may start the same task again after its worker died. The task row
in the store says who holds it (owner and heartbeat); the saved answers say which prompts are settled. A delivery
that finds the task finished does nothing; one that finds it held by a live owner is told to come back later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog

from xianxia.llm.errors import LLMError
from xianxia.store.base import Store, StoreError

log = structlog.get_logger(__name__)


class BatchChat(Protocol):
    """What a batch needs of the LLM side (`LLMGateway` is one)."""

    @property
    def batch_concurrency(self) -> int: ...

    def check_available(self) -> None: ...

    async def batch_item(self, prompt: str) -> dict[str, Any]: ...


class TaskHeldElsewhere(Exception):
    """Another owner runs this task and still heartbeats; deliver it again later."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """How one delivery ended: the task's status afterwards and how many prompts it sent upstream."""

    status: Literal["done", "failed", "missing"]
    called: int = 0
    already_finished: bool = False


class ResumableBatch:
    """Runs `llm_batch` tasks from the store, saving every answer before the task counts as done."""

    def __init__(
        self,
        store: Store,
        chat: BatchChat,
        *,
        owner: str,
        stale_after: float,
        heartbeat_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._chat = chat
        self.owner = owner
        self._stale_after = stale_after
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock

    async def run(self, task_id: str) -> BatchOutcome:
        """Claim the task and answer the prompts that have no saved answer; raises `TaskHeldElsewhere`."""
        record = await self._store.claim_task(task_id, self.owner, stale_before=self._clock() - self._stale_after)
        if record is None:
            return await self._not_claimed(task_id)
        prompts = record.payload.get("prompts")
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            return await self._fail(task_id, "ValueError: a batch task needs a list of prompt strings")
        try:
            self._chat.check_available()
        except LLMError as exc:
            return await self._fail(task_id, f"{type(exc).__name__}: {exc}")
        heartbeat = asyncio.create_task(self._heartbeat(task_id), name=f"task-heartbeat-{task_id}")
        try:
            called = await self._answer_missing(task_id, prompts)
            saved = await self._store.task_results(task_id)
            results = [saved[index] for index in range(len(prompts))]
            await self._store.update_task(task_id, "done", owner=self.owner, result=results)
        except StoreError:
            raise  # the delivery is retried; what was saved stays saved
        except Exception as exc:
            log.exception("task_crashed", task_id=task_id)
            return await self._fail(task_id, f"{type(exc).__name__}: {exc}")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        log.info("task_done", task_id=task_id, prompts=len(prompts), called=called, resumed=len(prompts) - called)
        return BatchOutcome("done", called=called)

    async def _not_claimed(self, task_id: str) -> BatchOutcome:
        existing = await self._store.get_task(task_id)
        if existing is None:
            log.warning("task_missing", task_id=task_id)  # purged, or the store was replaced: nothing to do
            return BatchOutcome("missing")
        if existing.status in ("done", "failed"):
            log.info("task_already_finished", task_id=task_id, status=existing.status)
            return BatchOutcome(existing.status, already_finished=True)
        raise TaskHeldElsewhere(f"task {task_id} is held by {existing.owner}, which still heartbeats")

    async def _answer_missing(self, task_id: str, prompts: list[str]) -> int:
        saved = await self._store.task_results(task_id)
        missing = [index for index in range(len(prompts)) if index not in saved]
        gate = asyncio.Semaphore(self._chat.batch_concurrency)
        lost: list[StoreError] = []

        async def answer(index: int) -> None:
            async with gate:
                if lost:  # the store is failing: ask nothing more this delivery
                    return
                result = await self._chat.batch_item(prompts[index])
                try:
                    await self._store.save_task_result(task_id, index, result)
                except StoreError as exc:
                    lost.append(exc)

        # Not a task group: an answer already on its way is saved, never cancelled halfway through its write.
        outcomes = await asyncio.gather(*(answer(index) for index in missing), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if lost:
            raise lost[0]  # the queue retries the delivery; what was saved stays saved
        return len(missing)

    async def _fail(self, task_id: str, error: str) -> BatchOutcome:
        log.warning("task_failed", task_id=task_id, error=error)
        await self._store.update_task(task_id, "failed", owner=self.owner, error=error)
        return BatchOutcome("failed")

    async def _heartbeat(self, task_id: str) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await self._store.touch_tasks(self.owner, [task_id])
            except StoreError as exc:
                log.warning("task_heartbeat_failed", task_id=task_id, error=str(exc))
