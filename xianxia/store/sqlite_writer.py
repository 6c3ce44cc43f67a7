"""The SQLite write connection. Every method runs in the store's single writer thread.

Keeping whole transactions in plain synchronous code means a batch of actions
costs one hop to the thread, not one per statement.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from xianxia.engine.state import PlayerState
from xianxia.store.base import (
    ActionRecord,
    PlayerExists,
    SettingRecord,
    StoreError,
    StoreUnavailable,
    TaskRecord,
    TaskStatus,
)
from xianxia.store.codec import (
    TASK_COLUMNS,
    ActionRows,
    action_rows,
    dump_optional_json,
    setting_record,
    task_record,
    task_row,
)
from xianxia.store.group_commit import Rejected, conflict_error, duplicate_error
from xianxia.store.migrations import SQLITE_MIGRATIONS

SYNCHRONOUS_LEVELS = ("off", "normal", "full", "extra")

UPDATE_PLAYER = """
UPDATE players SET state = ?, version = ?, actions = actions + 1, updated_at = ?
WHERE id = ? AND actions = ? AND version = ?
"""
INSERT_LOG = """
INSERT INTO action_log (player_id, seq, version, text, intent, parser, outcome, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_IDEMPOTENCY = "INSERT INTO idempotency (player_id, key, response, created_at) VALUES (?, ?, ?, ?)"
CLAIM_TASKS = """
UPDATE tasks SET owner = ?, updated_at = ?
WHERE status IN ('pending', 'running') AND updated_at < ? AND id IN (
    SELECT id FROM tasks WHERE status IN ('pending', 'running') AND updated_at < ? ORDER BY created_at LIMIT ?
)
RETURNING *
"""


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

    def _migrate(self) -> None:
        with self._transaction() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, steps in enumerate(SQLITE_MIGRATIONS, start=1):
                if number <= current:
                    continue
                for statement in steps:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

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
        try:
            if conn.execute(UPDATE_PLAYER, row.player).rowcount != 1:
                raise Rejected(conflict_error(action))
            try:
                conn.execute(INSERT_LOG, row.log)
            except sqlite3.IntegrityError as exc:
                raise Rejected(conflict_error(action)) from exc
            if row.idempotency is not None:
                try:
                    conn.execute(INSERT_IDEMPOTENCY, row.idempotency)
                except sqlite3.IntegrityError as exc:
                    raise Rejected(duplicate_error(action)) from exc
        except Rejected as rejected:
            conn.execute("ROLLBACK TO action")
            conn.execute("RELEASE action")
            return rejected.error
        conn.execute("RELEASE action")
        return None

    def create_player(self, state: PlayerState, token_hash: str) -> None:
        now = time.time()
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO players (id, name, state, version, actions, token_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                    (state.id, state.name, state.model_dump_json(), state.version, token_hash, now, now),
                )
        except sqlite3.IntegrityError as exc:
            raise PlayerExists(f"player {state.id} already exists") from exc

    def set_setting(self, key: str, value: str) -> SettingRecord:
        with self._transaction() as conn:
            row = conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
                " RETURNING key, value, updated_at",
                (key, value, time.time()),
            ).fetchone()
        return setting_record(row)

    def create_task(self, task: TaskRecord) -> None:
        with _unique("task", task.id), self._transaction() as conn:
            conn.execute(f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", task_row(task))

    def update_task(self, task_id: str, status: TaskStatus, owner: str | None, result: Any, error: str | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE tasks SET status = ?, owner = ?, result = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, owner, dump_optional_json(result), error, time.time(), task_id),
            )

    def claim_tasks(self, owner: str, stale_before: float, limit: int) -> list[TaskRecord]:
        with self._transaction() as conn:
            rows = conn.execute(CLAIM_TASKS, (owner, time.time(), stale_before, stale_before, limit)).fetchall()
        return sorted((task_record(row) for row in rows), key=lambda task: task.created_at)

    def touch_tasks(self, owner: str, task_ids: list[str]) -> None:
        if not task_ids:
            return
        marks = ", ".join("?" * len(task_ids))
        with self._transaction() as conn:
            conn.execute(
                f"UPDATE tasks SET updated_at = ? WHERE owner = ? AND status IN ('pending', 'running')"
                f" AND id IN ({marks})",
                (time.time(), owner, *task_ids),
            )


@contextmanager
def _unique(kind: str, key: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"{kind} {key} already exists") from exc
