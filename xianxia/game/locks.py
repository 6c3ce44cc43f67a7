"""Per-key asyncio locks that disappear when nobody holds or waits on them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    """One lock per key (a player id), so one player's actions run one at a time in this process."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            current, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (current, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
