"""The contract suite runs against both backends: SQLite on a temporary file, PostgreSQL in a fresh schema."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from xianxia.engine.state import PlayerState
from xianxia.store.base import ActionRecord, PlayerRecord
from xianxia.store.factory import create_store
from xianxia.store.postgres import PostgresStore
from xianxia.store.sqlite import SQLiteStore


def pg_url() -> str:
    """The test database, read when needed: the throwaway-server plugin may set it after this module loads."""
    return os.environ.get("XIANXIA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


AnyStore = SQLiteStore | PostgresStore


@dataclass(frozen=True)
class Backend:
    """One database that several store instances (think: worker processes) can open."""

    name: str
    url: str

    def make(self, **options: Any) -> AnyStore:
        store = create_store(self.url, **options)
        assert isinstance(store, SQLiteStore | PostgresStore)
        return store

    async def open(self, **options: Any) -> AnyStore:
        store = self.make(**options)
        await store.open()
        return store


async def _require_postgres() -> None:
    url = pg_url()
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(
            f"PostgreSQL at {url} is unreachable ({type(exc).__name__}: {exc}). Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "or point XIANXIA_TEST_DATABASE_URL at a reachable database.",
            pytrace=False,
        )
    await conn.close()


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(pg_url(), timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[Backend]:
    """A fresh, uniquely named schema in the test database, dropped afterwards."""
    await _require_postgres()
    schema = f"test_store_{secrets.token_hex(6)}"
    base = pg_url()
    separator = "&" if "?" in base else "?"
    try:
        yield Backend("postgres", f"{base}{separator}schema={schema}")
    finally:
        await _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'db' / 'game.db'}")
        return
    async with postgres_schema() as postgres:
        yield postgres


@pytest.fixture
async def postgres_backend() -> AsyncIterator[Backend]:
    async with postgres_schema() as postgres:
        yield postgres


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AnyStore]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()


def make_state(player_id: str = "p1", name: str = "韩立") -> PlayerState:
    return PlayerState(
        id=player_id,
        name=name,
        seed=7,
        root="金灵根",
        realm="炼气",
        stage=1,
        qi=0,
        hp=100,
        max_hp=100,
        attack=10,
        defense=5,
        spirit_stones=20,
        location="主城",
        inventory={"筑基丹": 1},
    )


def next_action(record: PlayerRecord, *, key: str | None = None, text: str = "打坐修炼") -> ActionRecord:
    """The action a game worker would commit after reading `record`: one more qi, one more version."""
    state = record.state
    new_state = state.model_copy(update={"qi": state.qi + 1, "version": state.version + 1})
    return ActionRecord(
        player_id=state.id,
        expected_version=state.version,
        expected_actions=record.actions,
        state=new_state,
        text=text,
        intent={"intent": "cultivate", "slots": {}, "allowed": True, "reason": None},
        parser="rules",
        outcome={"allowed": True, "narration": "你盘膝而坐，灵气入体。", "version": new_state.version},
        response={"narration": "你盘膝而坐，灵气入体。", "player": {"qi": new_state.qi}},
        idempotency_key=key,
        created_at=1000.0 + record.actions,
    )


async def wait_until(condition: Callable[[], bool], what: str, *, rounds: int = 10_000) -> None:
    """Yield to the event loop until `condition` holds, a bounded number of times."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"timed out waiting for {what}")
