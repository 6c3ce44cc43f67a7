"""Real worker processes sharing one new SQLite file: migrations and commits stay safe."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tests.store.conftest import make_state, next_action
from xianxia.store.base import PlayerExists, VersionConflict
from xianxia.store.factory import create_store
from xianxia.store.sqlite_writer import SQLiteWriter

PROCESSES = 3
ACTIONS = 20


def _worker(url: str, index: int, start: Any) -> None:
    """One worker process: open the (maybe new) store when all start together, then act on two players."""

    async def main() -> None:
        store = create_store(url)
        start.wait()
        await store.open()
        await store.create_player(make_state(f"own{index}"), "h")
        with contextlib.suppress(PlayerExists):  # every process tries; exactly one creates it
            await store.create_player(make_state("shared"), "h")
        for player_id in [f"own{index}", "shared"] * ACTIONS:
            while True:
                record = await store.get_player(player_id)
                assert record is not None
                try:
                    await store.commit_action(next_action(record))
                    break
                except VersionConflict:
                    continue
        await store.close()

    asyncio.run(main())


async def test_worker_processes_sharing_a_new_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "game.db"
    url = f"sqlite:///{path}"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES + 1)
    processes = [context.Process(target=_worker, args=(url, i, start)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    await asyncio.to_thread(start.wait, 60)

    for process in processes:
        await asyncio.to_thread(process.join, 60)

    assert [process.exitcode for process in processes] == [0] * PROCESSES
    with sqlite3.connect(path) as conn:
        actions = dict(conn.execute("SELECT id, actions FROM players").fetchall())
        logged = conn.execute("SELECT player_id, count(*), max(seq) FROM action_log GROUP BY player_id").fetchall()
    assert actions == {"shared": ACTIONS * PROCESSES} | {f"own{i}": ACTIONS for i in range(PROCESSES)}
    assert sorted(logged) == sorted(
        [("shared", ACTIONS * PROCESSES, ACTIONS * PROCESSES)]
        + [(f"own{i}", ACTIONS, ACTIONS) for i in range(PROCESSES)]
    )


def test_connections_switching_a_new_file_to_wal_at_once_all_succeed(tmp_path: Path) -> None:
    """SQLite answers one of two simultaneous WAL switches 'database is locked' at once; the writer retries."""
    failures: list[BaseException] = []

    def open_writer(path: Path, start: threading.Barrier) -> None:
        writer = SQLiteWriter(str(path), synchronous="full", busy_timeout_ms=5000)
        start.wait()
        try:
            writer.connect()
        except BaseException as exc:
            failures.append(exc)
        finally:
            writer.close()

    for attempt in range(30):
        path = tmp_path / f"new-{attempt}.db"
        start = threading.Barrier(8)
        threads = [threading.Thread(target=open_writer, args=(path, start)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
