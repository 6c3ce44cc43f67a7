"""PostgreSQL store (asyncpg pool) for several machines; the same contract as the SQLite store.

Actions are group-committed too: one pooled connection, one transaction per
batch, a savepoint per action.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import structlog

from xianxia.engine.state import PlayerState
from xianxia.store.base import (
    ActionRecord,
    InvalidParameter,
    LogEntry,
    PlayerExists,
    PlayerRecord,
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
    load_json,
    log_entry,
    player_record,
    setting_record,
    task_record,
    task_row,
)
from xianxia.store.group_commit import (
    DEFAULT_MAX_BATCH,
    GroupCommitter,
    GroupCommitting,
    Rejected,
    conflict_error,
    duplicate_error,
)
from xianxia.store.migrations import POSTGRES_MIGRATIONS
from xianxia.store.parameters import check_integer, check_text

log = structlog.get_logger(__name__)

#: How often a batch that lost a deadlock is retried before its callers see `StoreUnavailable`.
DEADLOCK_RETRIES = 3

SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

UPDATE_PLAYER = """
UPDATE players SET state = $1, version = $2, actions = actions + 1, updated_at = $3
WHERE id = $4 AND actions = $5 AND version = $6
"""
INSERT_LOG = """
INSERT INTO action_log (player_id, seq, version, text, intent, parser, outcome, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
INSERT_IDEMPOTENCY = "INSERT INTO idempotency (player_id, key, response, created_at) VALUES ($1, $2, $3, $4)"
# A join locks rows in no set order; taking the locks in id order first keeps concurrent batches deadlock-free.
LOCK_PLAYERS = "SELECT 1 FROM players WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE"
# Two actions of one player in a batch match one row, so the count tells them apart and we fall back.
UPDATE_PLAYERS_BULK = """
UPDATE players AS p SET state = u.state, version = u.version, actions = p.actions + 1, updated_at = u.updated_at
FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[], $5::bigint[], $6::bigint[])
    AS u(state, version, updated_at, id, expected_actions, expected_version)
WHERE p.id = u.id AND p.actions = u.expected_actions AND p.version = u.expected_version
"""
INSERT_LOG_BULK = """
INSERT INTO action_log (player_id, seq, version, text, intent, parser, outcome, created_at)
SELECT * FROM unnest(
    $1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[]
)
"""
INSERT_IDEMPOTENCY_BULK = """
INSERT INTO idempotency (player_id, key, response, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[])
"""
CLAIM_TASKS = """
UPDATE tasks SET owner = $1, updated_at = $2
WHERE status IN ('pending', 'running') AND updated_at < $3 AND id IN (
    SELECT id FROM tasks WHERE status IN ('pending', 'running') AND updated_at < $3
    ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED
)
RETURNING *
"""


class PostgresStore(GroupCommitting):
    """Players, log, idempotency keys, settings and tasks in PostgreSQL, optionally in their own schema."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        batch_size: int = DEFAULT_MAX_BATCH,
        timeout: float = 5.0,
    ) -> None:
        if schema is not None and not SCHEMA_NAME.match(schema):
            raise ValueError(f"schema must be a plain identifier (letters, digits, _), not {schema!r}")
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("pool sizes need 0 <= min_size <= max_size and max_size >= 1")
        self._dsn = dsn
        self.schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        parts = urlsplit(dsn)
        # Where, for messages: never the password.
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._pool: Any = None
        self._committer = GroupCommitter(self._write_batch, max_batch=batch_size)

    def _server_settings(self) -> dict[str, str]:
        return {"search_path": f'"{self.schema}"'} if self.schema else {}

    async def open(self) -> None:
        """Create the schema if asked, migrate under an advisory lock, then start the pool."""
        if self._pool is not None:
            return
        with self._translate("connecting"):
            await self._migrate()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._timeout,
                server_settings=self._server_settings(),
            )
        self._committer.start()

    async def _migrate(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=self._timeout, server_settings=self._server_settings())
        try:
            async with conn.transaction():
                # Serialises concurrent start-ups; released with the transaction.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"xianxia-migrate:{self.schema}")
                if self.schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
                for number, steps in enumerate(POSTGRES_MIGRATIONS, start=1):
                    if number <= current:
                        continue
                    for statement in steps:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", number, time.time()
                    )
        finally:
            await conn.close()

    async def close(self) -> None:
        """Commit what is queued, then close the pool."""
        try:
            await self._committer.close()
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                await pool.close()

    async def ping(self) -> None:
        async with self._connection("ping") as conn:
            await conn.fetchval("SELECT 1", timeout=self._timeout)

    async def create_player(self, state: PlayerState, token_hash: str) -> None:
        now = time.time()
        async with self._connection("create_player") as conn:
            try:
                await conn.execute(
                    "INSERT INTO players (id, name, state, version, actions, token_hash, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, 0, $5, $6, $6)",
                    state.id,
                    state.name,
                    state.model_dump_json(),
                    state.version,
                    token_hash,
                    now,
                )
            except asyncpg.UniqueViolationError as exc:
                raise PlayerExists(f"player {state.id} already exists") from exc

    async def get_player(self, player_id: str) -> PlayerRecord | None:
        check_text("player_id", player_id)
        async with self._connection("get_player") as conn:
            row = await conn.fetchrow(
                "SELECT state, token_hash, actions, created_at FROM players WHERE id = $1", player_id
            )
        return None if row is None else player_record(row)

    async def commit_action(self, action: ActionRecord) -> None:
        """Queue the action for the next group commit; return once it is durable."""
        await self._committer.submit(action)

    async def _write_batch(self, actions: list[ActionRecord]) -> list[StoreError | None]:
        now = time.time()
        rows = [action_rows(action, now) for action in actions]
        attempt = 1
        async with self._connection("commit") as conn:
            while True:
                try:
                    async with conn.transaction():
                        if await self._apply_all(conn, rows, [action.player_id for action in actions]):
                            return [None] * len(actions)
                        return [await self._apply(conn, a, row) for a, row in zip(actions, rows, strict=True)]
                except asyncpg.DeadlockDetectedError:
                    # Batches lock players in id order, so this is rare; the batch was rolled back whole.
                    if attempt == DEADLOCK_RETRIES:
                        raise
                    attempt += 1
                    log.warning("store_batch_deadlock", actions=len(actions), attempt=attempt)

    @staticmethod
    async def _apply_all(conn: Any, rows: list[ActionRows], player_ids: list[str]) -> bool:
        """The fast path: three statements for the whole batch; False (nothing written) if any action is rejected.

        Per-action savepoints cost five round trips per action; this costs six per batch.
        """
        keyed = [row.idempotency for row in rows if row.idempotency is not None]
        try:
            async with conn.transaction():
                await conn.execute(LOCK_PLAYERS, player_ids)
                status = await conn.execute(UPDATE_PLAYERS_BULK, *_columns([row.player for row in rows]))
                if status != f"UPDATE {len(rows)}":
                    raise _Fallback
                await conn.execute(INSERT_LOG_BULK, *_columns([row.log for row in rows]))
                if keyed:
                    await conn.execute(INSERT_IDEMPOTENCY_BULK, *_columns(keyed))
        except (_Fallback, asyncpg.UniqueViolationError):
            return False
        return True

    @staticmethod
    async def _apply(conn: Any, action: ActionRecord, row: ActionRows) -> StoreError | None:
        """The careful path: one savepoint per action, so each caller gets its own answer."""
        try:
            async with conn.transaction():
                if await conn.execute(UPDATE_PLAYER, *row.player) != "UPDATE 1":
                    raise Rejected(conflict_error(action))
                try:
                    await conn.execute(INSERT_LOG, *row.log)
                except asyncpg.UniqueViolationError as exc:
                    raise Rejected(conflict_error(action)) from exc
                if row.idempotency is not None:
                    try:
                        await conn.execute(INSERT_IDEMPOTENCY, *row.idempotency)
                    except asyncpg.UniqueViolationError as exc:
                        raise Rejected(duplicate_error(action)) from exc
        except Rejected as rejected:
            return rejected.error
        return None

    async def get_idempotent(self, player_id: str, key: str) -> dict[str, Any] | None:
        check_text("player_id", player_id)
        check_text("idempotency key", key)
        async with self._connection("get_idempotent") as conn:
            text = await conn.fetchval(
                "SELECT response FROM idempotency WHERE player_id = $1 AND key = $2", player_id, key
            )
        response: dict[str, Any] | None = load_json(text)
        return response

    async def action_log(self, player_id: str, after_seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        check_text("player_id", player_id)
        check_integer("after", after_seq)
        check_integer("limit", limit)
        async with self._connection("action_log") as conn:
            rows = await conn.fetch(
                "SELECT seq, version, text, intent, parser, outcome, created_at FROM action_log"
                " WHERE player_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                player_id,
                after_seq,
                limit,
            )
        return [log_entry(row) for row in rows]

    async def count_players(self) -> int:
        async with self._connection("count_players") as conn:
            return int(await conn.fetchval("SELECT count(*) FROM players"))

    async def get_setting(self, key: str) -> SettingRecord | None:
        check_text("setting key", key)
        async with self._connection("get_setting") as conn:
            row = await conn.fetchrow("SELECT key, value, updated_at FROM settings WHERE key = $1", key)
        return None if row is None else setting_record(row)

    async def set_setting(self, key: str, value: str) -> SettingRecord:
        async with self._connection("set_setting") as conn:
            row = await conn.fetchrow(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
                " RETURNING key, value, updated_at",
                key,
                value,
                time.time(),
            )
        return setting_record(row)

    async def create_task(self, task: TaskRecord) -> None:
        async with self._connection("create_task") as conn:
            try:
                await conn.execute(
                    f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", *task_row(task)
                )
            except asyncpg.UniqueViolationError as exc:
                raise StoreError(f"task {task.id} already exists") from exc

    async def get_task(self, task_id: str) -> TaskRecord | None:
        check_text("task_id", task_id)
        async with self._connection("get_task") as conn:
            row = await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
        return None if row is None else task_record(row)

    async def update_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        owner: str | None,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        async with self._connection("update_task") as conn:
            await conn.execute(
                "UPDATE tasks SET status = $1, owner = $2, result = $3, error = $4, updated_at = $5 WHERE id = $6",
                status,
                owner,
                dump_optional_json(result),
                error,
                time.time(),
                task_id,
            )

    async def claim_tasks(self, owner: str, *, stale_before: float, limit: int = 100) -> list[TaskRecord]:
        async with self._connection("claim_tasks") as conn:
            rows = await conn.fetch(CLAIM_TASKS, owner, time.time(), stale_before, limit)
        return sorted((task_record(row) for row in rows), key=lambda task: task.created_at)

    async def touch_tasks(self, owner: str, task_ids: list[str]) -> None:
        if not task_ids:
            return
        async with self._connection("touch_tasks") as conn:
            await conn.execute(
                "UPDATE tasks SET updated_at = $1"
                " WHERE owner = $2 AND status IN ('pending', 'running') AND id = ANY($3::text[])",
                time.time(),
                owner,
                task_ids,
            )

    @asynccontextmanager
    async def _connection(self, what: str) -> AsyncIterator[Any]:
        """A pooled connection; driver and network failures inside become `StoreUnavailable`."""
        if self._pool is None:
            raise StoreUnavailable("the store is not open")
        with self._translate(what):
            async with self._pool.acquire(timeout=self._timeout) as conn:
                yield conn

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (asyncpg.DataError, asyncpg.exceptions._base.DataError) as exc:
            # The server's class 22 or asyncpg's own argument encoding: a value the column cannot hold.
            raise InvalidParameter(f"PostgreSQL rejected a parameter ({what}): {exc}") from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.where} failed ({what}): {type(exc).__name__}: {exc}") from exc


class _Fallback(Exception):
    """Internal: the bulk path met a rejected action; roll it back and go action by action."""


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Row tuples to column lists, one array parameter per column."""
    return [list(column) for column in zip(*rows, strict=True)]
