"""A database that does not answer surfaces as `StoreUnavailable`, never as a driver error."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.store.conftest import AnyStore, Backend, make_state, next_action, pg_url
from tests.store.proxy import TcpProxy
from xianxia.store.base import PlayerRecord, StoreUnavailable
from xianxia.store.factory import create_store
from xianxia.store.sqlite import SQLiteStore


async def test_ping_answers_on_an_open_store_and_fails_on_a_closed_one(backend: Backend) -> None:
    store = await backend.open()
    await store.ping()
    await store.close()

    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get_player("p1")


async def test_ping_fails_when_the_sqlite_file_is_deleted(tmp_path: Path) -> None:
    store = create_store(f"sqlite:///{tmp_path / 'game.db'}")
    await store.open()
    try:
        (tmp_path / "game.db").unlink()

        with pytest.raises(StoreUnavailable, match="gone"):
            await store.ping()
    finally:
        await store.close()


async def test_ping_fails_when_postgres_stops_answering(postgres_backend: Backend) -> None:
    backend = postgres_backend
    target = urlsplit(pg_url())
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    url = backend.url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}", 1)
    store = create_store(url, timeout=2.0)
    await store.open()
    try:
        await store.ping()

        await proxy.stop()

        with pytest.raises(StoreUnavailable, match="PostgreSQL"):
            await store.ping()
    finally:
        await asyncio.wait_for(store.close(), 10)


async def test_opening_an_unreachable_database_raises_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    for url in (f"sqlite:///{tmp_path / 'not-a-dir' / 'game.db'}", "postgresql://postgres@127.0.0.1:1/test"):
        store = create_store(url, timeout=2.0) if url.startswith("postgresql") else create_store(url)
        with pytest.raises(StoreUnavailable):
            await store.open()


async def test_sqlite_locked_past_busy_timeout_raises_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "game.db"
    store = SQLiteStore(path, busy_timeout=50)
    await store.open()
    await store.create_player(make_state(), "h")
    record = await store.get_player("p1")
    assert record is not None
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.create_player(make_state("p2"), "h")
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.commit_action(next_action(record))
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    await store.commit_action(next_action(record))  # the lock is gone: the writer works again
    assert (await _actions(store)) == 1
    await store.close()


async def _actions(store: AnyStore) -> int:
    record: PlayerRecord | None = await store.get_player("p1")
    assert record is not None
    return record.actions
