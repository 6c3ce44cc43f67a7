"""Schema migrations for every backend, and the one runner that applies them.

Append new migrations; never edit an applied one. The runner is written without I/O (it yields
the statements it wants run and receives their answers), so SQLite's synchronous writer thread and
asyncpg's coroutines drive the very same logic; each backend only supplies the transaction and lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from xianxia.store.dialect import Dialect
from xianxia.store.schema import (
    ACTION_LOG,
    AUDIT_LOG,
    AUDIT_LOG_NEWEST,
    IDEMPOTENCY,
    IDEMPOTENCY_EXPIRY,
    LLM_CALLS,
    LLM_CALLS_AT,
    PLAYERS,
    SCHEMA_MIGRATIONS,
    SETTINGS,
    TASK_RESULTS,
    TASKS,
    TASKS_CLAIMABLE,
    Index,
    Table,
)


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    steps: tuple[Table | Index, ...]

    def statements(self, dialect: Dialect) -> list[str]:
        return [step.create(dialect) for step in self.steps]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "players, their log, idempotency keys, settings, tasks",
        (
            PLAYERS,
            ACTION_LOG,
            IDEMPOTENCY,
            SETTINGS,
            TASKS,
            TASKS_CLAIMABLE,
        ),
    ),
    Migration(2, "expiring idempotency keys by age", (IDEMPOTENCY_EXPIRY,)),
    Migration(3, "an audit log of setting changes (the LLM mode: by hand or automatic)", (AUDIT_LOG, AUDIT_LOG_NEWEST)),
    Migration(4, "LLM call counts per worker and flush, for the rollback watch's window", (LLM_CALLS, LLM_CALLS_AT)),
    Migration(5, "batch tasks save each prompt's answer (a redelivered task resumes)", (TASK_RESULTS,)),
)


@dataclass(frozen=True)
class Execute:
    """Run a statement; the runner is sent None back."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FetchValue:
    """Run a query; the runner is sent the first column of its first row."""

    sql: str
    params: tuple[Any, ...] = ()


#: What the runner yields and what it is sent back; it returns the versions it applied.
Plan = Generator[Execute | FetchValue, Any, list[int]]


def migrate(
    dialect: Dialect,
    *,
    legacy_version: str | None = None,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    clock: Callable[[], float] = time.time,
) -> Plan:
    """Apply the migrations the database has not seen, in order, recording each in `schema_migrations`.

    Run it inside one transaction that holds the backend's migration lock. `legacy_version` is a
    query for where an older release recorded its version (SQLite's `PRAGMA user_version`), adopted
    when `schema_migrations` is still empty.
    """
    record = dialect.sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
    yield Execute(SCHEMA_MIGRATIONS.create(dialect))
    current = int((yield FetchValue("SELECT coalesce(max(version), 0) FROM schema_migrations")) or 0)
    if current == 0 and legacy_version is not None:
        current = int((yield FetchValue(legacy_version)) or 0)
        for version in range(1, current + 1):
            yield Execute(record, (version, clock()))
    applied: list[int] = []
    for migration in migrations:
        if migration.version <= current:
            continue
        for statement in migration.statements(dialect):
            yield Execute(statement)
        yield Execute(record, (migration.version, clock()))
        applied.append(migration.version)
    return applied
