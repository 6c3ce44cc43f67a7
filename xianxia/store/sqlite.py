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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiosqlite

from xianxia.engine.state import PlayerState
from xianxia.store.base import (
    ActionRecord,
    InvalidParameter,
    LogEntry,
    PlayerRecord,
    SettingRecord,
    StoreError,
    StoreUnavailable,
    TaskRecord,
    TaskStatus,
)
from xianxia.store.codec import load_json, log_entry, player_record, setting_record, task_record
from xianxia.store.group_commit import DEFAULT_MAX_BATCH, GroupCommitter, GroupCommitting
from xianxia.store.parameters import check_integer, check_text
from xianxia.store.sqlite_writer import SYNCHRONOUS_LEVELS, SQLiteWriter

P = ParamSpec("P")
T = TypeVar("T")


class SQLiteStore(GroupCommitting):
    """The default store: one SQLite file, safe to share between worker processes on one machine."""

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
        await self._fetch("SELECT count(*) FROM sqlite_master", ())

    async def create_player(self, state: PlayerState, token_hash: str) -> None:
        await self._in_writer(self._writer.create_player, state, token_hash)

    async def get_player(self, player_id: str) -> PlayerRecord | None:
        check_text("player_id", player_id)
        rows = await self._fetch(
            "SELECT state, token_hash, actions, created_at FROM players WHERE id = ?",
            (player_id,),
        )
        return player_record(rows[0]) if rows else None

    async def commit_action(self, action: ActionRecord) -> None:
        """Queue the action for the next group commit; return once it is durable."""
        await self._committer.submit(action)

    async def _write_batch(self, actions: list[ActionRecord]) -> list[StoreError | None]:
        return await self._in_writer(self._writer.write_batch, actions)

    async def get_idempotent(self, player_id: str, key: str) -> dict[str, Any] | None:
        check_text("player_id", player_id)
        check_text("idempotency key", key)
        rows = await self._fetch("SELECT response FROM idempotency WHERE player_id = ? AND key = ?", (player_id, key))
        if not rows:
            return None
        response: dict[str, Any] = load_json(rows[0]["response"])
        return response

    async def action_log(self, player_id: str, after_seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        check_text("player_id", player_id)
        check_integer("after", after_seq)
        check_integer("limit", limit)
        rows = await self._fetch(
            "SELECT seq, version, text, intent, parser, outcome, created_at FROM action_log"
            " WHERE player_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (player_id, after_seq, limit),
        )
        return [log_entry(row) for row in rows]

    async def count_players(self) -> int:
        rows = await self._fetch("SELECT count(*) AS n FROM players", ())
        return int(rows[0]["n"])

    async def get_setting(self, key: str) -> SettingRecord | None:
        check_text("setting key", key)
        rows = await self._fetch("SELECT key, value, updated_at FROM settings WHERE key = ?", (key,))
        return setting_record(rows[0]) if rows else None

    async def set_setting(self, key: str, value: str) -> SettingRecord:
        return await self._in_writer(self._writer.set_setting, key, value)

    async def create_task(self, task: TaskRecord) -> None:
        await self._in_writer(self._writer.create_task, task)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        check_text("task_id", task_id)
        rows = await self._fetch("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return task_record(rows[0]) if rows else None

    async def update_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        owner: str | None,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        await self._in_writer(self._writer.update_task, task_id, status, owner, result, error)

    async def claim_tasks(self, owner: str, *, stale_before: float, limit: int = 100) -> list[TaskRecord]:
        return await self._in_writer(self._writer.claim_tasks, owner, stale_before, limit)

    async def touch_tasks(self, owner: str, task_ids: list[str]) -> None:
        await self._in_writer(self._writer.touch_tasks, owner, task_ids)

    async def _in_writer(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` in the writer thread: all writes of this store, one after another."""
        if self._executor is None:
            raise StoreUnavailable("the store is not open")
        loop = asyncio.get_running_loop()
        with self._translate():
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        if not self._readers:
            raise StoreUnavailable("the store is not open")
        # Round robin: each aiosqlite connection is one thread, so reads spread over them.
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        conn = self._readers[self._next_reader]
        with self._translate():
            return list(await conn.execute_fetchall(sql, params))

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
