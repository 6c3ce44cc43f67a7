"""`create_store` picks the backend and its options from the database URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.store.conftest import make_state
from xianxia.store.factory import create_store
from xianxia.store.postgres import PostgresStore
from xianxia.store.sqlite import SQLiteStore


async def test_relative_sqlite_url_is_resolved_from_the_cwd_and_its_folder_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = create_store("sqlite:///data/nested/game.db")
    await store.open()
    await store.create_player(make_state(), "h")
    await store.close()

    with sqlite3.connect(tmp_path / "data" / "nested" / "game.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT name FROM players").fetchall() == [("韩立",)]


def test_absolute_sqlite_url_and_query_options(tmp_path: Path) -> None:
    store = create_store(f"sqlite:///{tmp_path}/game.db?synchronous=normal&busy_timeout=250")

    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "game.db"
    assert (store.synchronous, store.busy_timeout) == ("normal", 250)
    assert isinstance(create_store(f"sqlite:///{tmp_path}/game.db", synchronous="OFF"), SQLiteStore)


def test_postgres_urls_take_schema_and_pool_options_from_the_query() -> None:
    for scheme in ("postgresql", "postgres"):
        store = create_store(f"{scheme}://u:secret@db.example:6543/game?schema=tenant_1&max_size=4&sslmode=disable")

        assert isinstance(store, PostgresStore)
        assert store.schema == "tenant_1"
        assert store.where == "db.example:6543/game"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/game", "'mysql'"),
        ("game.db", "''"),
        ("sqlite:///game.db?synchronus=full", "synchronus"),
        ("sqlite:///game.db?synchronous=fast", "synchronous"),
        ("sqlite:///:memory:", "file path"),
        ("postgresql://localhost/game?schema=x;drop", "schema"),
    ],
)
def test_bad_urls_raise_value_error_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_store(url)
