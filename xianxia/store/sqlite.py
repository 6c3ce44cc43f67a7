"""SQLite store: WAL, one writer thread doing group commit, aiosqlite connections for reads.

Several hypercorn worker processes may share one file: writes take the lock
with BEGIN IMMEDIATE and wait up to `busy_timeout` for each other; WAL lets
readers run beside the writer.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiosqlite

from xianxia.store.base import ActionRecord, InvalidParameter, SettingChange, StoreError, StoreUnavailable
from xianxia.store.changes import Work
from xianxia.store.codec import Row
from xianxia.store.dialect import SQLITE
from xianxia.store.group_commit import DEFAULT_MAX_BATCH, GroupCommitter
from xianxia.store.sql_store import SQLStore
from xianxia.store.sqlite_writer import SYNCHRONOUS_LEVELS, SQLiteWriter

P = ParamSpec("P")
T = TypeVar("T")


class SQLiteStore(SQLStore):
    """The default store: one SQLite file, safe to share between worker processes on one machine."""

    dialect = SQLITE

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "full",
        busy_timeout: int = 5000,
        batch_size: int = DEFAULT_MAX_BATCH,
        readers: int = 2,
    ) -> None:
        synchronous = synchronous.lower()
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, not {synchronous!r}")
        if busy_timeout < 0 or readers < 1:
            raise ValueError("busy_timeout must be >= 0 ms and readers >= 1")
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._reader_count = readers
        self._writer = SQLiteWriter(str(self.path), synchronous=synchronous, busy_timeout_ms=busy_timeout)
        self._executor: ThreadPoolExecutor | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = 0
        self._file_identity: tuple[int, int] | None = None
        self._committer = GroupCommitter(self._write_batch, max_batch=batch_size)

    async def open(self) -> None:
        """Create the file and its folder, switch to WAL, migrate, and connect the readers."""
        if self._executor is not None:
            return
        with self._translate():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        try:
            await self._in_writer(self._writer.connect)
            for _ in range(self._reader_count):
                self._readers.append(await self._connect_reader())
            with self._translate():
                self._file_identity = _identity(self.path)
        except BaseException:
            await self._release()
            raise
        self._committer.start()

    async def _connect_reader(self) -> aiosqlite.Connection:
        with self._translate():
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout}")
            await conn.execute("PRAGMA query_only = ON")
        return conn

    async def close(self) -> None:
        """Commit what is queued, then close the connections and the writer thread."""
        try:
            await self._committer.close()
        finally:
            await self._release()

    async def _release(self) -> None:
        readers, self._readers = self._readers, []
        for conn in readers:
            await conn.close()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._writer.close)
            executor.shutdown(wait=False)
        self._file_identity = None

    async def ping(self) -> None:
        """Check that the file we write is still the one at the path, and that it answers a query."""
        if self._file_identity is None:
            raise StoreUnavailable("the store is not open")
        try:
            current = _identity(self.path)
        except OSError as exc:
            raise StoreUnavailable(f"SQLite database {self.path} is gone: {exc}") from exc
        if current != self._file_identity:
            raise StoreUnavailable(f"SQLite database {self.path} was replaced since the store opened it")
        await self._fetch("ping", "SELECT count(*) FROM sqlite_master", ())

    async def _write_batch(self, actions: list[ActionRecord]) -> list[StoreError | None]:
        return await self._in_writer(self._writer.write_batch, actions)

    async def _write(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        return list(await self._in_writer(self._writer.write, statement, params))

    async def _execute(self, what: str, statement: str, params: Sequence[Any]) -> int:
        return await self._in_writer(self._writer.execute, statement, params)

    async def _transact(self, what: str, work: Work) -> SettingChange | None:
        return await self._in_writer(self._writer.transact, work)

    async def _in_writer(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` in the writer thread: all writes of this store, one after another."""
        if self._executor is None:
            raise StoreUnavailable("the store is not open")
        loop = asyncio.get_running_loop()
        with self._translate():
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _fetch(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        if not self._readers:
            raise StoreUnavailable("the store is not open")
        # Round robin: each aiosqlite connection is one thread, so reads spread over them.
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        conn = self._readers[self._next_reader]
        with self._translate():
            return list(await conn.execute_fetchall(statement, params))

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Driver and OS failures become `StoreUnavailable` with a message an operator can act on."""
        try:
            yield
        except StoreError:
            raise
        except OverflowError as exc:  # an integer parameter wider than 64 bits
            raise InvalidParameter(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreUnavailable(
                    f"SQLite database {self.path} stayed locked by another connection"
                    f" for longer than busy_timeout={self.busy_timeout} ms"
                ) from exc
            raise StoreUnavailable(f"SQLite database {self.path} failed: {exc}") from exc
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"SQLite database {self.path} failed: {exc}") from exc


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino
