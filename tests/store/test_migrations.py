"""One schema spec and one migration runner: databases made by the old per-backend DDL migrate cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.store import legacy_schema
from tests.store.conftest import Backend, make_state, next_action, pg_url, postgres_schema
from xianxia.store.dialect import POSTGRES, SQLITE
from xianxia.store.migrations import MIGRATIONS, Execute, FetchValue, migrate
from xianxia.store.schema import TASKS

APP_TABLES = ("players", "action_log", "idempotency", "settings", "tasks")
LATEST = [migration.version for migration in MIGRATIONS]


def _legacy_rows() -> list[tuple[str, tuple[Any, ...]]]:
    """A player with one logged action and its idempotency answer, a setting and a finished task."""
    state = make_state()
    return [
        (
            "INSERT INTO players (id, name, state, version, actions, token_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 1, 'old-hash', 10.0, 11.0)",
            (state.id, state.name, state.model_dump_json(), state.version),
        ),
        (
            "INSERT INTO action_log (player_id, seq, version, text, intent, parser, outcome, created_at)"
            " VALUES (?, 1, ?, '打坐', '{\"intent\":\"cultivate\"}', 'rules', '{\"allowed\":true}', 11.0)",
            (state.id, state.version),
        ),
        (
            "INSERT INTO idempotency (player_id, key, response, created_at) VALUES (?, 'k1', '{\"a\":1}', 11.0)",
            (state.id,),
        ),
        ("INSERT INTO settings (key, value, updated_at) VALUES ('llm_mode', 'off', 12.0)", ()),
        (
            "INSERT INTO tasks (id, kind, status, payload, result, error, owner, created_at, updated_at)"
            " VALUES ('t1', 'llm_batch', 'done', '{}', '[]', NULL, 'w0', 13.0, 14.0)",
            (),
        ),
    ]


def _make_legacy_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        for statement in legacy_schema.SQLITE_MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(legacy_schema.SQLITE_RECORD)
        for statement, params in _legacy_rows():
            conn.execute(statement, params)


async def _make_legacy_postgres(backend: Backend) -> None:
    schema = backend.url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(pg_url(), server_settings={"search_path": schema})
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        for statement in (*legacy_schema.POSTGRES_MIGRATIONS[0], *legacy_schema.POSTGRES_BOOKKEEPING):
            await conn.execute(statement)
        for statement, params in _legacy_rows():
            await conn.execute(POSTGRES.sql(statement), *params)
    finally:
        await conn.close()


async def _legacy_backend(name: str, tmp_path: Path, postgres: Backend) -> Backend:
    if name == "sqlite":
        _make_legacy_sqlite(tmp_path / "old.db")
        return Backend("sqlite", f"sqlite:///{tmp_path / 'old.db'}")
    await _make_legacy_postgres(postgres)
    return postgres


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
async def test_a_database_made_by_the_old_ddl_migrates_and_keeps_its_data(name: str, tmp_path: Path) -> None:
    async with postgres_schema() as postgres:
        backend = await _legacy_backend(name, tmp_path, postgres)
        store = await backend.open()
        try:
            record = await store.get_player("p1")
            assert record is not None
            assert (record.state, record.actions, record.token_hash) == (make_state(), 1, "old-hash")
            assert [entry.text for entry in await store.action_log("p1")] == ["打坐"]
            assert await store.get_idempotent("p1", "k1") == {"a": 1}
            assert (await store.get_setting("llm_mode")) is not None
            assert (task := await store.get_task("t1")) is not None and task.status == "done"

            await store.commit_action(next_action(record, key="k2"))  # the migrated tables take new writes

            assert [entry.seq for entry in await store.action_log("p1")] == [1, 2]
            assert await _applied(backend) == LATEST
            assert "idempotency_expiry" in await _indexes(backend)
        finally:
            await store.close()
        reopened = await backend.open()  # a second start applies nothing and breaks nothing
        await reopened.close()
        assert await _applied(backend) == LATEST


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
async def test_a_fresh_database_has_exactly_the_columns_the_old_ddl_gave(name: str, tmp_path: Path) -> None:
    async with postgres_schema() as old_pg, postgres_schema() as new_pg:
        old = await _legacy_backend(name, tmp_path, old_pg)
        new = Backend("sqlite", f"sqlite:///{tmp_path / 'new.db'}") if name == "sqlite" else new_pg
        for backend in (old, new):
            await (await backend.open()).close()

        assert await _columns(new) == await _columns(old)
        assert await _indexes(new) == await _indexes(old)


def test_the_runner_adopts_a_legacy_version_and_applies_only_what_is_missing() -> None:
    """Driven by hand: the runner is plain data in and out, the same for both backends."""
    plan = migrate(SQLITE, legacy_version="PRAGMA user_version", clock=lambda: 5.0)
    seen: list[Execute | FetchValue] = []
    answers = {"SELECT coalesce(max(version), 0) FROM schema_migrations": 0, "PRAGMA user_version": 1}
    answer: Any = None
    with pytest.raises(StopIteration) as done:
        while True:
            step = plan.send(answer)
            seen.append(step)
            answer = answers[step.sql] if isinstance(step, FetchValue) else None

    assert done.value.value == LATEST[1:]
    recorded = [step.params for step in seen if step.sql.startswith("INSERT INTO schema_migrations")]
    assert recorded == [(version, 5.0) for version in LATEST]
    assert not any(TASKS.create(SQLITE) == step.sql for step in seen)  # migration 1 is not run again


def test_dialects_render_the_one_spec_with_their_own_types_and_placeholders() -> None:
    assert "status TEXT NOT NULL CHECK" in TASKS.create(SQLITE)
    assert "created_at REAL NOT NULL" in TASKS.create(SQLITE)
    assert "created_at DOUBLE PRECISION NOT NULL" in TASKS.create(POSTGRES)
    assert POSTGRES.sql("UPDATE t SET a = ? WHERE b = ? AND c = ?") == "UPDATE t SET a = $1 WHERE b = $2 AND c = $3"
    assert SQLITE.sql("UPDATE t SET a = ? WHERE b = ?") == "UPDATE t SET a = ? WHERE b = ?"


async def _applied(backend: Backend) -> list[int]:
    rows = await _query(backend, "SELECT version FROM schema_migrations ORDER BY version")
    return [row[0] for row in rows]


async def _columns(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    """Per table: (name, type, nullable, default) of every column, and the primary key."""
    if backend.name == "sqlite":
        return {
            table: [tuple(row[1:6]) for row in await _query(backend, f"PRAGMA table_info({table})")]
            for table in APP_TABLES
        }
    rows = await _query(
        backend,
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    return {table: [tuple(row[1:]) for row in rows if row[0] == table] for table in APP_TABLES}


async def _indexes(backend: Backend) -> set[str]:
    if backend.name == "sqlite":
        rows = await _query(backend, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    else:
        rows = await _query(backend, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return {row[0] for row in rows if not row[0].endswith("_pkey")}


async def _query(backend: Backend, sql: str) -> list[tuple[Any, ...]]:
    if backend.name == "sqlite":
        path = backend.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    schema = backend.url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(pg_url(), server_settings={"search_path": schema})
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()
