"""PostgreSQL store (asyncpg pool) for several machines; the same contract as the SQLite store.

Actions are group-committed too: one pooled connection, one transaction per
batch; a bulk fast path, and a savepoint per action when one is rejected.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import structlog

from xianxia.store.base import ActionRecord, InvalidParameter, SettingChange, StoreError, StoreUnavailable
from xianxia.store.changes import Query, Work
from xianxia.store.codec import ActionRows, Row, action_rows
from xianxia.store.dialect import POSTGRES
from xianxia.store.group_commit import DEFAULT_MAX_BATCH, GroupCommitter, Rejected
from xianxia.store.migrations import Execute, Plan, migrate
from xianxia.store.sql_store import SQLStore, UniqueViolation
from xianxia.store.statements import action_steps

log = structlog.get_logger(__name__)

#: How often a batch that lost a deadlock is retried before its callers see `StoreUnavailable`.
DEADLOCK_RETRIES = 3

SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# The bulk fast path is PostgreSQL's own (unnest over array parameters); the per-action path is shared.
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


class PostgresStore(SQLStore):
    """Players, log, idempotency keys, settings and tasks in PostgreSQL, optionally in their own schema."""

    dialect = POSTGRES

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

    async def _migrate(self) -> list[int]:
        """The shared runner, under an advisory lock that serialises concurrent start-ups."""
        conn = await asyncpg.connect(self._dsn, timeout=self._timeout, server_settings=self._server_settings())
        try:
            async with conn.transaction():
                # Released with the transaction.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"xianxia-migrate:{self.schema}")
                if self.schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                return await _drive(migrate(POSTGRES), conn)
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

    async def _fetch(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        async with self._connection(what) as conn:
            return list(await conn.fetch(statement, *params))

    async def _write(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        async with self._connection(what) as conn:
            try:
                return list(await conn.fetch(statement, *params))
            except asyncpg.UniqueViolationError as exc:
                raise UniqueViolation(str(exc)) from exc

    async def _execute(self, what: str, statement: str, params: Sequence[Any]) -> int:
        async with self._connection(what) as conn:
            status: str = await conn.execute(statement, *params)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 3", "DELETE 0"

    async def _transact(self, what: str, work: Work) -> SettingChange | None:
        async with self._connection(what) as conn, conn.transaction():
            answer: Any = None
            try:
                while True:
                    step = work.send(answer)
                    if isinstance(step, Query):
                        answer = list(await conn.fetch(step.sql, *step.params))
                    else:
                        status: str = await conn.execute(step.sql, *step.params)
                        answer = int(status.rsplit(" ", 1)[-1])
            except StopIteration as done:
                result: SettingChange | None = done.value
                return result

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
                for step in action_steps(POSTGRES, row):
                    try:
                        status: str = await conn.execute(step.sql, *step.params)
                    except asyncpg.UniqueViolationError as exc:
                        raise Rejected(step.rejected(action)) from exc
                    if not status.endswith(" 1"):
                        raise Rejected(step.rejected(action))
        except Rejected as rejected:
            return rejected.error
        return None

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


async def _drive(plan: Plan, conn: Any) -> list[int]:
    """Run the migration runner's statements on `conn`, answering its queries."""
    answer: Any = None
    try:
        while True:
            step = plan.send(answer)
            if isinstance(step, Execute):
                await conn.execute(step.sql, *step.params)
                answer = None
            else:
                answer = await conn.fetchval(step.sql, *step.params)
    except StopIteration as done:
        applied: list[int] = done.value
        return applied


class _Fallback(Exception):
    """Internal: the bulk path met a rejected action; roll it back and go action by action."""


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Row tuples to column lists, one array parameter per column."""
    return [list(column) for column in zip(*rows, strict=True)]
