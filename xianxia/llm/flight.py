"""In-flight bookkeeping: single-flight (identical concurrent calls share one upstream call), the per-player
in-flight cap, and a bounded LRU cache with a TTL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from xianxia.llm.errors import LLMBusy

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """At most `maxsize` entries, each forgotten `ttl` seconds after it was stored; thread-safe."""

    def __init__(self, *, maxsize: int = 1024, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._maxsize = maxsize
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class SingleFlight(Generic[K, V]):
    """Concurrent callers with the same key await one task; a cancelled caller does not cancel it for the others."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, call: Callable[[], Coroutine[Any, Any, V]]) -> V:
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(call())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # shield: a waiter that gives up (its budget ran out) leaves the shared call running for the rest.
        return await asyncio.shield(task)

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel calls nobody may be waiting for any more and wait until they are gone."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, key: K, done: asyncio.Task[V]) -> None:
        if self._tasks.get(key) is done:
            del self._tasks[key]
        if not done.cancelled():
            done.exception()  # retrieved: a call every waiter abandoned must not log "exception never retrieved"


class ThreadSingleFlight(Generic[K, V]):
    """Single-flight for the thread-pool path: concurrent threads with the same key share one call."""

    def __init__(self) -> None:
        self._futures: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def run(self, key: K, call: Callable[[], V]) -> V:
        with self._lock:
            future = self._futures.get(key)
            leader = future is None
            if future is None:
                future = self._futures[key] = Future()
        if not leader:
            return future.result()
        try:
            value = call()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(value)
            return value
        finally:
            with self._lock:
                del self._futures[key]


class PlayerSlots:
    """How many calls each player has in flight; over the cap is refused at once. Thread-safe."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str) -> None:
        """Count one more call for `user`, or raise `LLMBusy` at the cap."""
        with self._lock:
            count = self._counts.get(user, 0)
            if count >= self._cap:
                raise LLMBusy(f"this player already has {count} LLM calls in flight")
            self._counts[user] = count + 1

    def release(self, user: str) -> None:
        with self._lock:
            left = self._counts[user] - 1
            if left:
                self._counts[user] = left
            else:
                del self._counts[user]

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)
