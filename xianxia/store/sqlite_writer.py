"""The SQLite write connection. Every method runs in the store's single writer thread.

Keeping whole transactions in plain synchronous code means a batch of actions
costs one hop to the thread, not one per statement.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from xianxia.store.base import ActionRecord, SettingChange, StoreError, StoreUnavailable
from xianxia.store.changes import Query, Work
from xianxia.store.codec import ActionRows, action_rows
from xianxia.store.dialect import SQLITE
from xianxia.store.migrations import Execute, Plan, migrate
from xianxia.store.sql_store import UniqueViolation
from xianxia.store.statements import action_steps

SYNCHRONOUS_LEVELS = ("off", "normal", "full", "extra")

#: Where releases before `schema_migrations` kept the schema version.
LEGACY_VERSION = "PRAGMA user_version"

_UNIQUE = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


class SQLiteWriter:
    """Owns the one write connection of a store; not thread-safe, used from one thread only."""

    def __init__(self, path: str, *, synchronous: str, busy_timeout_ms: int) -> None:
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable("the store is not open")
        return self._conn

    def connect(self) -> None:
        """Open the file, switch it to WAL and apply pending migrations."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            # busy_timeout first: the WAL switch and migrations may wait on another process's lock.
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            self._enable_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
            self._migrate()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a (new) file to WAL, retrying when another process is switching it at the same moment.

        Two connections converting a rollback-journal file at once deadlock on its locks, and
        SQLite answers one of them SQLITE_BUSY at once, without calling the busy handler.
        """
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)  # the writer thread, not the event loop
            pause = min(pause * 2, 0.05)
        if str(mode).lower() != "wal":
            raise StoreUnavailable(f"could not switch {self.path} to WAL (journal_mode is {mode})")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so no other process can invalidate our reads."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate(self) -> list[int]:
        """The shared runner, under BEGIN IMMEDIATE: concurrent first opens take turns."""
        with self._transaction() as conn:
            return _drive(migrate(SQLITE, legacy_version=LEGACY_VERSION), conn)

    def write_batch(self, actions: list[ActionRecord]) -> list[StoreError | None]:
        """Write the batch in one transaction (one fsync); a rejected action undoes only itself."""
        now = time.time()
        rows = [action_rows(action, now) for action in actions]
        # Savepoints are cheap here (no thread hop, no I/O): an executemany fast path measured no faster.
        with self._transaction() as conn:
            return [self._apply(conn, action, row) for action, row in zip(actions, rows, strict=True)]

    @staticmethod
    def _apply(conn: sqlite3.Connection, action: ActionRecord, row: ActionRows) -> StoreError | None:
        """One savepoint per action, so a rejection undoes only that action."""
        conn.execute("SAVEPOINT action")
        for step in action_steps(SQLITE, row):
            try:
                touched = conn.execute(step.sql, step.params).rowcount
            except sqlite3.IntegrityError:
                touched = 0
            if touched != 1:
                conn.execute("ROLLBACK TO action")
                conn.execute("RELEASE action")
                return step.rejected(action)
        conn.execute("RELEASE action")
        return None

    def write(self, statement: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        """One statement in its own transaction; the rows it returns."""
        with _unique(), self._transaction() as conn:
            return conn.execute(statement, params).fetchall()

    def execute(self, statement: str, params: Sequence[Any]) -> int:
        """One statement in its own transaction; the rows it touched."""
        with _unique(), self._transaction() as conn:
            return conn.execute(statement, params).rowcount

    def transact(self, work: Work) -> SettingChange | None:
        """A unit of work in one transaction: its reads see nothing another process changes until it commits."""
        with _unique(), self._transaction() as conn:
            answer: Any = None
            try:
                while True:
                    step = work.send(answer)
                    cursor = conn.execute(step.sql, step.params)
                    answer = cursor.fetchall() if isinstance(step, Query) else cursor.rowcount
            except StopIteration as done:
                result: SettingChange | None = done.value
                return result


def _drive(plan: Plan, conn: sqlite3.Connection) -> list[int]:
    """Run the migration runner's statements on `conn`, answering its queries."""
    answer: Any = None
    try:
        while True:
            step = plan.send(answer)
            cursor = conn.execute(step.sql, step.params)
            answer = None if isinstance(step, Execute) else cursor.fetchone()[0]
    except StopIteration as done:
        applied: list[int] = done.value
        return applied


@contextmanager
def _unique() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in _UNIQUE:
            raise UniqueViolation(str(exc)) from exc
        raise
