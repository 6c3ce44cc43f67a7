"""Run a plan in the load process, summarise its latencies, and seed a store before a server opens it."""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.server import ROOT
from xianxia.config import Settings
from xianxia.store.base import TaskRecord
from xianxia.web.services import Services

LOAD = [sys.executable, "-m", "tests.bench.load"]


def plan(
    kind: str, url: str, method: str, targets: list[dict[str, Any]], bodies: list[str], **extra: Any
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    base = {"kind": kind, "host": host, "port": int(port), "method": method, "targets": targets, "bodies": bodies}
    return base | extra


class LoadProcess:
    """The load client (tests/bench/load.py), started once per bench run; plans go in, results come out."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("ab")
        self._process = subprocess.Popen(
            LOAD, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=os.environ.copy()
        )

    def run(
        self, spec: dict[str, Any], *, sample: Callable[[], None] | None = None, every: float = 0.5
    ) -> dict[str, Any]:
        """Run `spec`; `sample` is called every `every` seconds until its result arrives."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(spec).encode() + b"\n")
        self._process.stdin.flush()
        while sample is not None and not select.select([self._process.stdout], [], [], every)[0]:
            sample()
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(10)
            raise RuntimeError(f"load process died ({self._process.returncode}); see {self._log.name}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._log.close()


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[rank]


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Counts, wall time, throughput and percentiles of one load run (latencies of answered requests)."""
    ordered = sorted(result["latencies_ms"])
    outcomes: dict[str, int] = result["outcomes"]
    ok = outcomes.get("200", 0)
    wall = result["wall_seconds"]
    return {
        "requests": sum(outcomes.values()),
        "ok": ok,
        "errors": sum(outcomes.values()) - ok,
        "outcomes": outcomes,
        "wall_s": round(wall, 3),
        "rps": round(ok / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p95_ms": round(percentile(ordered, 0.95), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else float("nan"),
        "client_cpu_s": round(result["client_cpu_seconds"], 3),
    }


def seed(database_url: str, players: int, tasks: int, prefix: str = "p") -> list[tuple[str, str]]:
    """Create `players` players and `tasks` finished tasks straight in the store (before a server opens it)."""
    return asyncio.run(_seed(database_url, players, tasks, prefix))


async def _seed(database_url: str, players: int, tasks: int, prefix: str) -> list[tuple[str, str]]:
    services = Services.build(Settings(database_url=database_url, deepseek_api_key=None))
    await services.store.open()
    try:
        made: list[tuple[str, str]] = []
        for start in range(0, players, 200):
            chunk = range(start, min(players, start + 200))
            created = await asyncio.gather(*(services.game.create_player(f"{prefix}{i}") for i in chunk))
            made += [(state.id, token) for state, token in created]
        now = time.time()
        for start in range(0, tasks, 200):
            chunk = range(start, min(tasks, start + 200))
            records = [
                TaskRecord(
                    id=uuid.uuid4().hex,
                    kind="llm_batch",
                    status="pending",
                    payload={"prompts": [f"问{i}"]},
                    created_at=now,
                    updated_at=now,
                )
                for i in chunk
            ]
            await asyncio.gather(*(services.store.create_task(record) for record in records))
            await asyncio.gather(
                *(
                    services.store.update_task(record.id, "done", owner=None, result=[{"text": "答"}])
                    for record in records
                )
            )
        return made
    finally:
        await services.store.close()
