"""Group commit: actions from many callers share one transaction and one fsync.

Callers enqueue an action and await a future; a single writer task takes
everything queued (up to `max_batch`), hands it to the backend's batch writer
(one transaction, a savepoint per action) and resolves the futures only after
that transaction committed. A conflict fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from xianxia.store.base import ActionRecord, DuplicateIdempotencyKey, StoreError, StoreUnavailable, VersionConflict
from xianxia.store.parameters import check_action

log = structlog.get_logger(__name__)

#: Writes a batch in one transaction; returns per action None (committed) or the error that rejected it.
BatchWriter = Callable[[list[ActionRecord]], Awaitable[list[StoreError | None]]]

DEFAULT_MAX_BATCH = 256


@dataclass(slots=True)
class CommitStats:
    """How many batches (transactions) carried how many committed actions."""

    batches: int = 0
    actions: int = 0
    largest_batch: int = 0


class GroupCommitter:
    """Queues actions and commits them in batches from one writer task."""

    def __init__(self, write_batch: BatchWriter, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: deque[tuple[ActionRecord, asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.stats = CommitStats()

    @property
    def pending(self) -> int:
        """Actions queued and not yet taken by the writer."""
        return len(self._queue)

    def start(self) -> None:
        """Start the writer task (in the running event loop)."""
        if self._writer is not None:
            return
        self._closing = False
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._run(), name="store-group-commit")

    async def submit(self, action: ActionRecord) -> None:
        """Queue the action and return once the transaction holding it committed."""
        if self._writer is None or self._closing:
            raise StoreUnavailable("the store is closed")
        check_action(action)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((action, future))
        self._wake.set()
        await future

    async def close(self) -> None:
        """Commit everything queued, then stop the writer."""
        writer = self._writer
        if writer is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await writer
        finally:
            self._writer = None

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._commit_next_batch()
                if self._closing:
                    return
        except asyncio.CancelledError:
            self._fail_queued(StoreUnavailable("the store's writer stopped; the action may not have been saved"))
            raise

    def _take_batch(self) -> list[tuple[ActionRecord, asyncio.Future[None]]]:
        batch: list[tuple[ActionRecord, asyncio.Future[None]]] = []
        while self._queue and len(batch) < self._max_batch:
            item = self._queue.popleft()
            if not item[1].cancelled():  # its caller gave up before it was written: skip it
                batch.append(item)
        return batch

    async def _commit_next_batch(self) -> None:
        batch = self._take_batch()
        if not batch:
            return
        # One lock order for every writer (by player id, FIFO within a player): two batches
        # touching the same players in other orders could otherwise deadlock on PostgreSQL.
        batch.sort(key=lambda item: item[0].player_id)
        try:
            results = await self._write_batch([action for action, _ in batch])
        except asyncio.CancelledError:
            _fail(batch, StoreUnavailable("the store's writer stopped; the action may not have been saved"))
            raise
        except Exception as exc:
            error = exc if isinstance(exc, StoreError) else StoreUnavailable(f"commit failed: {exc!r}")
            log.error("store_batch_failed", actions=len(batch), error=str(error))
            _fail(batch, error)
            return
        committed = sum(result is None for result in results)
        self.stats.batches += 1
        self.stats.actions += committed
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if result is None:
                future.set_result(None)
            else:
                future.set_exception(result)

    def _fail_queued(self, error: StoreError) -> None:
        queued = list(self._queue)
        self._queue.clear()
        _fail(queued, error)


class GroupCommitting:
    """What a group-committing store shows of its committer (for metrics and tests)."""

    _committer: GroupCommitter

    @property
    def commit_stats(self) -> CommitStats:
        """Batches and actions committed by this store instance."""
        return self._committer.stats

    @property
    def pending_commits(self) -> int:
        """Actions queued for the next batch."""
        return self._committer.pending


def _fail(batch: list[tuple[ActionRecord, asyncio.Future[None]]], error: StoreError) -> None:
    for _, future in batch:
        if not future.done():
            # A fresh exception per caller: one instance raised in many tasks would share a traceback.
            future.set_exception(type(error)(*error.args))


def conflict_error(action: ActionRecord) -> VersionConflict:
    """The error of an action whose player moved on (or never existed)."""
    return VersionConflict(
        f"player {action.player_id} is no longer at version {action.expected_version}"
        f" after {action.expected_actions} actions (or does not exist)"
    )


def duplicate_error(action: ActionRecord) -> DuplicateIdempotencyKey:
    """The error of an action whose idempotency key was used already."""
    return DuplicateIdempotencyKey(
        f"idempotency key {action.idempotency_key!r} was already used by player {action.player_id}"
    )


class Rejected(Exception):
    """Raised inside a backend's per-action savepoint to roll it back; carries the caller's error."""

    def __init__(self, error: StoreError) -> None:
        super().__init__(str(error))
        self.error = error
