"""`make bench`: the action route against a bare Quart route, and an LLM burst through the app against a direct one.

Every figure is a ratio of two measurements taken in the same run on the same
machine, so a noisy neighbour moves both. Results go to stdout and to
bench-results/bench.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from tests.support.fakellm.process import fake_upstream
from tests.support.server import ROOT, free_port, stop, wait_until_ready

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
BURST = int(os.environ.get("BENCH_BURST", "1000"))
UPSTREAM_LATENCY = 1.0


@contextmanager
def serve(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """hypercorn with one worker on a free port."""
    with serve_process(app, env, log) as (url, _pid):
        yield url


#: Production defaults but for the edge: the bench drives thousands of players from one address (DESIGN.md).
LOAD_EDGE = {"XIANXIA_RATE_LIMITS": "off", "XIANXIA_LLM_OPEN": "1"}


@contextmanager
def serve_process(app: str, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """The serving layer (`python -m xianxia serve`) with one worker on a free port: its URL and the server's pid."""
    port = free_port()
    command = [sys.executable, "-m", "xianxia", "serve", "--app", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **LOAD_EDGE, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/healthz" if "xianxia" in app else f"{url}/nothing", process, log, accept_404=True)
        yield url, process.pid
    finally:
        stop(process)


def client(base_url: str, connections: int) -> httpx.AsyncClient:
    """The load generator's client: aiohttp under httpx (httpx's own pool stalls on large bursts)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=base_url, transport=AiohttpTransport(limits=limits), timeout=httpx.Timeout(120.0), limits=limits
    )


async def sustained(send: Callable[[int], Awaitable[int]], concurrency: int, seconds: float) -> dict[str, float]:
    """Requests/s of `concurrency` closed-loop senders for `seconds` (after a short warm-up)."""
    done = 0
    errors = 0
    stop_at = 0.0

    async def worker(index: int) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop_at:
            status = await send(index)
            if status == 200:
                done += 1
            else:
                errors += 1

    stop_at = time.perf_counter() + 1.0
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    done = errors = 0
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"rps": done / elapsed, "errors": errors, "requests": done}


async def bench_actions(tmp: Path) -> dict[str, Any]:
    """The game's durable action route against a bare Quart JSON route."""
    results: dict[str, Any] = {}
    with serve("tests.bench.bare_app:app", {}, tmp / "bare.log") as url:
        async with client(url, CONCURRENCY) as http:

            async def bare(index: int) -> int:
                response = await http.post("/echo", json={"text": "打坐修炼"})
                return response.status_code

            results["bare_quart"] = await sustained(bare, CONCURRENCY, DURATION)
    env = {"XIANXIA_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "XIANXIA_LOG_LEVEL": "WARNING"}
    with serve("xianxia.web.app:create_app()", env, tmp / "game.log") as url:
        async with client(url, CONCURRENCY) as http:
            players = []
            for i in range(CONCURRENCY):
                created = (await http.post("/api/players", json={"name": f"bench{i}"})).json()
                players.append((created["player"]["id"], {"Authorization": f"Bearer {created['token']}"}))

            async def action(index: int) -> int:
                player_id, auth = players[index]
                response = await http.post(f"/api/players/{player_id}/act", json={"text": "打坐修炼"}, headers=auth)
                return response.status_code

            results["game_action"] = await sustained(action, CONCURRENCY, DURATION)
    results["ratio"] = results["game_action"]["rps"] / results["bare_quart"]["rps"]
    results["target"] = ">= 0.75"
    return results


async def burst(send: Callable[[int], Awaitable[int]], count: int) -> dict[str, float]:
    started = time.perf_counter()
    statuses = await asyncio.gather(*(send(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "ok": sum(1 for s in statuses if s == 200), "count": count}


async def bench_llm_burst(tmp: Path) -> dict[str, Any]:
    """BURST concurrent chat calls through one game worker against the same burst sent straight upstream.

    Each side runs the burst twice; the ratio compares the second (warm: connections pooled) runs, the
    first (cold: every connection opened during the burst) is reported beside it.
    """
    results: dict[str, Any] = {}
    with fake_upstream(tmp / "fakellm.log", latency=UPSTREAM_LATENCY) as upstream:
        async with client(upstream, BURST) as http:

            async def direct(index: int) -> int:
                body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": f"问{index}"}]}
                response = await http.post("/chat/completions", json=body, headers={"Authorization": "Bearer k"})
                return response.status_code

            results["direct_cold"] = await burst(direct, BURST)
            results["direct"] = await burst(direct, BURST)
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp / 'llm.db'}",
            "XIANXIA_LOG_LEVEL": "WARNING",
            "DEEPSEEK_API_KEY": "bench-key",
            "DEEPSEEK_BASE_URL": upstream,
            "XIANXIA_LLM_MODE": "async",
        }
        with serve("xianxia.web.app:create_app()", env, tmp / "llm-game.log") as url:
            async with client(url, BURST) as http:

                async def through_app(index: int) -> int:
                    response = await http.post("/api/llm/chat", json={"prompt": f"问{index}"})
                    return response.status_code

                results["through_app_cold"] = await burst(through_app, BURST)
                results["through_app"] = await burst(through_app, BURST)
    results["ratio"] = results["through_app"]["seconds"] / results["direct"]["seconds"]
    results["ratio_cold"] = results["through_app_cold"]["seconds"] / results["direct_cold"]["seconds"]
    results["target"] = "<= 2.0"
    return results


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_rss_mb(server_pid: int) -> float:
    """Resident memory of the hypercorn worker, in MB: the largest of the server's processes."""
    children = [int(pid) for pid in Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()]
    return max(rss_mb(pid) for pid in [server_pid, *children])


async def bench_memory(tmp: Path) -> dict[str, Any]:
    """The worker's memory after PLAYERS players have joined and acted once each."""
    count = int(os.environ.get("BENCH_PLAYERS", "10000"))
    env = {"XIANXIA_DATABASE_URL": f"sqlite:///{tmp / 'memory.db'}", "XIANXIA_LOG_LEVEL": "WARNING"}
    with serve_process("xianxia.web.app:create_app()", env, tmp / "memory.log") as (url, pid):
        async with client(url, 64) as http:
            baseline = worker_rss_mb(pid)
            gate = asyncio.Semaphore(64)

            async def join_and_act(index: int) -> int:
                async with gate:
                    created = (await http.post("/api/players", json={"name": f"m{index}"})).json()
                    auth = {"Authorization": f"Bearer {created['token']}"}
                    url_act = f"/api/players/{created['player']['id']}/act"
                    return (await http.post(url_act, json={"text": "打坐修炼"}, headers=auth)).status_code

            statuses = await asyncio.gather(*(join_and_act(i) for i in range(count)))
            loaded = worker_rss_mb(pid)
    return {
        "players": count,
        "ok": sum(1 for status in statuses if status == 200),
        "rss_mb_idle": round(baseline, 1),
        "rss_mb_loaded": round(loaded, 1),
        "target": "< 200 MB",
    }


async def main() -> int:
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xianxia-bench-") as scratch:
        tmp = Path(scratch)
        report = {
            "actions": await bench_actions(tmp),
            "llm_burst": await bench_llm_burst(tmp),
            "memory": await bench_memory(tmp),
        }
    (out / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    ratios = {name: round(section["ratio"], 3) for name, section in report.items() if "ratio" in section}
    print(
        "ratios:", ratios, "worker MB with", report["memory"]["players"], "players:", report["memory"]["rss_mb_loaded"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
