"""A database URL for end-to-end runs: an SQLite file, or a fresh PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

BACKENDS = ("sqlite", "postgres")


def postgres_url() -> str:
    return os.environ.get("XIANXIA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[str]:
    """`XIANXIA_DATABASE_URL` for `backend`; PostgreSQL gets a uniquely named schema, dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'game.db'}"
        return
    base = postgres_url()
    try:
        asyncio.run(_execute(base, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(
            f"PostgreSQL at {base} is unreachable ({type(exc).__name__}: {exc}). Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "or point XIANXIA_TEST_DATABASE_URL at a reachable database.",
            pytrace=False,
        )
    schema = f"test_serve_{secrets.token_hex(6)}"
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}schema={schema}"
    finally:
        asyncio.run(_execute(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
