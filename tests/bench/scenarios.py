"""The bench's scenarios, each measuring the app beside its yardstick in the same run."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tests.bench.drive import LoadProcess, plan, seed, summary
from tests.bench.servers import BARE_APP, GAME_APP, Pending, Served, start, start_flask

TEXTS = ["看看四周", "查看状态", "打坐修炼"]
ACT_BODIES = [f'{{"text": "{text}"}}' for text in TEXTS]


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; `BENCH_<FIELD>` in the environment overrides a field (lists comma-separated)."""

    levels: tuple[int, ...] = (1, 10, 50, 100, 1000)
    latency: float = 1.0
    flask_levels: tuple[int, ...] = (50, 1000)
    flask_threads: int = 10
    sync_workers: int = 5
    burst_timeout: float = 60.0
    act_clients: int = 100
    act_seconds: float = 8.0
    act_workers: tuple[int, ...] = (1, 2)
    paced_players: int = 1000
    paced_seconds: float = 10.0
    sequential: int = 300
    scale_players: int = 10000
    scale_tasks: int = 10000
    scale_rounds: int = 3
    scale_round_seconds: float = 3.0
    soak_actions: int = 100000

    @classmethod
    def named(cls, profile: str) -> Sizes:
        sizes = QUICK if profile == "quick" else cls()
        for field in fields(cls):
            raw = os.environ.get(f"BENCH_{field.name.upper()}")
            if raw is None:
                continue
            current = getattr(sizes, field.name)
            value: Any
            if isinstance(current, tuple):
                value = tuple(int(part) for part in raw.split(",") if part.strip())
            else:
                value = type(current)(raw)
            sizes = replace(sizes, **{field.name: value})
        return sizes


QUICK = Sizes(
    levels=(1, 10, 50),
    latency=0.3,
    flask_levels=(50,),
    act_clients=50,
    act_seconds=2.0,
    act_workers=(1,),
    paced_players=200,
    paced_seconds=3.0,
    sequential=200,
    scale_players=300,
    scale_tasks=300,
    scale_rounds=1,
    scale_round_seconds=1.5,
    soak_actions=0,
)


SOAK_PLAYERS = 100
SCALE_CLIENTS = 10
ADMIN = "bench-admin"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def act_targets(players: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"path": f"/api/players/{pid}/act", "headers": auth(token)} for pid, token in players]


class Bench:
    """One run's shared processes: the fake upstream, the load client, and every server, started together.

    All servers a run needs start at once (their interpreters' start-up overlaps) and each is stopped when its
    last scenario is done; until then it waits idle beside the one being measured. The game on one worker
    serves the action scenarios in turn, each with its own players, all seeded in its store before it starts
    (the store is the embedded default: an SQLite file, synchronous=FULL).
    """

    def __init__(self, sizes: Sizes, tmp: Path, upstream: str, load: LoadProcess, stack: ExitStack) -> None:
        self.sizes, self.tmp, self.upstream, self.load, self.stack = sizes, tmp, upstream, load, stack
        self._pending: dict[str, Pending] = {}
        self.players: dict[str, list[tuple[str, str]]] = {}

    def db(self, name: str) -> str:
        return f"sqlite:///{self.tmp / name}.db"

    def game_env(self, name: str, **extra: str) -> dict[str, str]:
        return {"XIANXIA_DATABASE_URL": self.db(name), **extra}

    def prestart(self, scenarios: list[str]) -> None:
        """Seed the stores and start every server the chosen scenarios use."""
        sizes = self.sizes
        wanted: dict[str, Any] = {}
        if "llm" in scenarios:
            wanted["bare-1"] = None
            env = self.game_env(
                "llm",
                DEEPSEEK_API_KEY="bench-key",
                DEEPSEEK_BASE_URL=self.upstream,
                XIANXIA_LLM_MODE="async",
                XIANXIA_ADMIN_TOKEN=ADMIN,
                LLM_MAX_WORKERS=str(sizes.sync_workers),
                # The table overloads the sync pool on purpose (p95 of 20 s, refusals at 1000): the automatic
                # rollback would switch the LLM off in the middle of it. It has its own tests.
                XIANXIA_ROLLBACK="off",
            )
            wanted["llm"] = partial(start, GAME_APP, env, self.tmp / "llm.log")
            if sizes.flask_levels:
                wanted["flask"] = lambda: start_flask(
                    self.upstream, self.tmp / "flask.log", threads=sizes.flask_threads
                )
        game_players = 0
        if "act" in scenarios:
            for workers in sizes.act_workers:
                wanted[f"bare-{workers}"] = None
                if workers > 1:
                    wanted[f"game-{workers}"] = sizes.act_clients
            game_players += sizes.act_clients if 1 in sizes.act_workers else 0
        game_players += sizes.paced_players if "paced" in scenarios else 0
        game_players += 1 if "sequential" in scenarios else 0
        game_players += SOAK_PLAYERS if "soak" in scenarios else 0
        if game_players:
            wanted["game-1"] = game_players
        if "scale" in scenarios:
            wanted["empty"] = SCALE_CLIENTS
            wanted["full"] = (sizes.scale_players, sizes.scale_tasks)
        for name, how in wanted.items():
            if name.startswith("bare-"):
                workers = int(name.split("-")[1])
                bare_env = {"BENCH_SLEEP": str(sizes.latency), "BENCH_UPSTREAM": self.upstream}
                self._add(name, start(BARE_APP, bare_env, self.tmp / f"{name}.log", workers=workers))
            elif callable(how):
                self._add(name, how())
            else:
                players, tasks = how if isinstance(how, tuple) else (how, 0)
                self.players[name] = seed(self.db(name), players, tasks)
                workers = int(name.split("-")[1]) if name.startswith("game-") else 1
                self._add(name, start(GAME_APP, self.game_env(name), self.tmp / f"{name}.log", workers=workers))

    def _add(self, name: str, pending: Pending) -> None:
        self._pending[name] = pending
        self.stack.callback(pending.stop)

    def server(self, name: str) -> Served:
        return self._pending[name].ready()

    def done_with(self, *names: str) -> None:
        """Stop servers no later scenario uses, so they cost the next measurements nothing."""
        for name in names:
            if name in self._pending:
                self._pending.pop(name).stop()

    def take(self, name: str, count: int) -> list[tuple[str, str]]:
        """`count` players of server `name` that no earlier scenario used."""
        pool = self.players[name]
        taken, self.players[name] = pool[:count], pool[count:]
        if len(taken) < count:
            raise RuntimeError(f"{name} was seeded with too few players")
        return taken


def reset_upstream(upstream: str) -> None:
    httpx.post(f"{upstream}/_reset", timeout=10.0).raise_for_status()


def upstream_calls(upstream: str) -> int:
    stats = httpx.get(f"{upstream}/_stats", timeout=10.0).json()
    return int(stats["by_path"].get("/chat/completions", 0))


def switch_mode(served: Served, mode: str) -> None:
    """The operator's switch (PUT /api/admin/mode), then wait until the worker reports it in force."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    httpx.put(f"{served.url}/api/admin/mode", json={"mode": mode}, headers=admin, timeout=10.0).raise_for_status()
    deadline = time.monotonic() + 10.0
    while httpx.get(f"{served.url}/readyz", timeout=10.0).json()["checks"]["llm"]["mode"] != mode:
        if time.monotonic() > deadline:
            raise TimeoutError(f"mode {mode} not in force after 10 s")
        time.sleep(0.1)


def settle(served: Served, window: float = 0.3, busy: float = 0.02, limit: float = 15.0) -> None:
    """Wait (up to `limit` s) until the server idles: what a burst leaves to do (a 1000-call burst leaves
    1000 idle upstream connections and their garbage) is not counted in the next burst's wall time or CPU."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = served.cpu_seconds()
        time.sleep(window)
        if served.cpu_seconds() - before < busy:
            return


class LLMTable:
    """Sync vs async (chat and parse), the direct burst, the floor, a minimal proxy and the old Flask service."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.sizes = bench.sizes
        self.rows: list[dict[str, Any]] = []
        self.run_tag = 0

    def burst(self, served_url: str, path: str, body: str, level: int) -> dict[str, Any]:
        self.run_tag += 1
        tagged = body.replace("{i}", f"{self.run_tag}-{{i}}")
        # Only the upstream reads the key; the app's LLM routes are open for the bench (LOAD_EDGE).
        target = {"path": path, "headers": {"Authorization": "Bearer bench-key"}}
        spec = plan("burst", served_url, "POST", [target], [tagged], count=level)
        spec["timeout"] = self.sizes.burst_timeout
        return summary(self.bench.load.run(spec))

    def measure(self, name: str, route: str, served: Served | None, url: str, path: str, body: str) -> None:
        upstream = self.bench.upstream
        self.burst(url, path, body, min(20, max(self.sizes.levels)))  # warm-up: pools, the process's caches
        for level in self.sizes.levels if name != "old_flask" else self.sizes.flask_levels:
            reset_upstream(upstream)
            if served:
                settle(served)
            cpu = served.cpu_seconds() if served else 0.0
            row = self.burst(url, path, body, level)
            row.update(
                implementation=name,
                route=route,
                concurrency=level,
                upstream_calls=upstream_calls(upstream),
                server_cpu_s=round(served.cpu_seconds() - cpu, 3) if served else None,
            )
            self.rows.append(row)

    def run(self) -> dict[str, Any]:
        bench, sizes = self.bench, self.sizes
        chat = '{"prompt": "问道 {i}"}'
        parse = '{"utterance": "打坐修炼 第{i}回", "context": {"scene": "主城"}}'
        upstream_body = '{"model": "deepseek-chat", "messages": [{"role": "user", "content": "问道 {i}"}]}'
        bare, app = bench.server("bare-1"), bench.server("llm")
        self.measure("direct", "chat", None, bench.upstream, "/chat/completions", upstream_body)
        self.measure("quart_sleep_floor", "chat", bare, bare.url, "/sleep", chat)
        self.measure("quart_proxy", "chat", bare, bare.url, "/chat", chat)
        # Parse before chat: the sync pool's largest burst times calls out, which opens the circuit breaker,
        # and a parse behind an open breaker is answered by the rules parser (no upstream call).
        for mode in ("async", "sync"):
            switch_mode(app, mode)
            self.measure(f"app_{mode}", "parse", app, app.url, "/api/llm/parse", parse)
            self.measure(f"app_{mode}", "chat", app, app.url, "/api/llm/chat", chat)
        bench.done_with("llm")
        if sizes.flask_levels:
            old = bench.server("flask")
            self.measure("old_flask", "chat", old, old.url, "/api/llm/chat", chat)
            bench.done_with("flask")
        return {"rows": self.rows, "ratios": self.ratios(), "cpu": self.cpu()}

    def row(self, name: str, route: str, level: int) -> dict[str, Any] | None:
        for row in self.rows:
            if (row["implementation"], row["route"], row["concurrency"]) == (name, route, level):
                return row
        return None

    def ratios(self) -> dict[str, Any]:
        top = max(self.sizes.levels)
        found: dict[str, Any] = {}
        direct = self.row("direct", "chat", top)
        for name in ("app_async", "quart_proxy", "quart_sleep_floor"):
            row = self.row(name, "chat", top)
            if direct and row:
                found[f"{name}_vs_direct_at_{top}"] = round(row["wall_s"] / direct["wall_s"], 2)
        for level in self.sizes.levels:
            for route in ("chat", "parse"):
                sync, async_ = self.row("app_sync", route, level), self.row("app_async", route, level)
                if sync and async_:
                    found[f"sync_vs_async_{route}_at_{level}"] = round(sync["wall_s"] / async_["wall_s"], 2)
        return found

    def cpu(self) -> dict[str, Any]:
        """Server CPU seconds per 1000 answered calls, over the levels where the sync pool answers everything."""
        per_mode: dict[str, Any] = {}
        for mode in ("app_async", "app_sync"):
            rows = [r for r in self.rows if r["implementation"] == mode and r["concurrency"] <= 100]
            ok = sum(r["ok"] for r in rows)
            cpu = sum(r["server_cpu_s"] for r in rows)
            per_mode[mode] = {"calls": ok, "cpu_s": round(cpu, 3), "cpu_s_per_1000": round(cpu / ok * 1000, 3)}
        async_, sync = per_mode["app_async"]["cpu_s_per_1000"], per_mode["app_sync"]["cpu_s_per_1000"]
        per_mode["async_vs_sync"] = round(async_ / sync, 3) if sync else None
        per_mode["target"] = "async <= 1.20 x sync"
        return per_mode


def durable_versions(url: str, players: list[tuple[str, str]]) -> int:
    """Sum of the players' versions: every acknowledged action bumps its player's version once."""
    total = 0
    with httpx.Client(base_url=url, timeout=30.0) as http:
        for player_id, token in players:
            total += http.get(f"/api/players/{player_id}", headers=auth(token)).json()["player"]["version"]
    return total


def closed_act(
    bench: Bench, url: str, players: list[tuple[str, str]], seconds: float, *, warmup: float = 1.0
) -> dict[str, Any]:
    targets = act_targets(players)
    return summary(bench.load.run(plan("closed", url, "POST", targets, ACT_BODIES, duration=seconds, warmup=warmup)))


def bench_llm(bench: Bench) -> dict[str, Any]:
    return LLMTable(bench).run()


def bench_actions(bench: Bench) -> dict[str, Any]:
    """`/act` vs the bare Quart JSON route at `act_clients` keep-alive clients, per worker count."""
    sizes = bench.sizes
    rows = []
    for workers in sizes.act_workers:
        bare, game = bench.server(f"bare-{workers}"), bench.server(f"game-{workers}")
        targets = [{"path": "/echo"} for _ in range(sizes.act_clients)]
        spec = plan("closed", bare.url, "POST", targets, ACT_BODIES, duration=sizes.act_seconds, warmup=1.0)
        cpu = bare.cpu_seconds()
        row = summary(bench.load.run(spec))
        rows.append(row | {"target": "bare_quart", "workers": workers, "server_cpu_s": bare.cpu_seconds() - cpu})
        players = bench.take(f"game-{workers}", sizes.act_clients)
        before = durable_versions(game.url, players)
        cpu = game.cpu_seconds()
        row = closed_act(bench, game.url, players, sizes.act_seconds)
        row |= {"target": "game_act", "workers": workers, "server_cpu_s": game.cpu_seconds() - cpu}
        row["committed_versions"] = durable_versions(game.url, players) - before
        rows.append(row)
        if workers > 1:
            bench.done_with(f"bare-{workers}", f"game-{workers}")
    bench.done_with("bare-1")
    ratios = {}
    for workers in sizes.act_workers:
        bare_row = next(r for r in rows if r["target"] == "bare_quart" and r["workers"] == workers)
        game_row = next(r for r in rows if r["target"] == "game_act" and r["workers"] == workers)
        ratios[f"act_vs_bare_{workers}_worker"] = round(game_row["rps"] / bare_row["rps"], 3)
    return {"rows": rows, "ratios": ratios, "target": "act/bare >= 0.75", "clients": sizes.act_clients}


def bench_paced(bench: Bench) -> dict[str, Any]:
    """`paced_players` players acting once a second each at their own phase, open loop, one worker."""
    sizes = bench.sizes
    game = bench.server("game-1")
    targets = act_targets(bench.take("game-1", sizes.paced_players))
    spec = plan("paced", game.url, "POST", targets, ACT_BODIES, duration=sizes.paced_seconds, warmup=1.0)
    spec["period"] = 1.0
    raw = bench.load.run(spec)
    result = summary(raw) | {"players": sizes.paced_players, "target": "p95 < 50 ms, 0 errors"}
    result["histogram_ms"] = histogram(raw["latencies_ms"])
    return result


def histogram(latencies: list[float]) -> list[list[float]]:
    """Percentile curve (share, ms) at 1% steps, for the plot."""
    ordered = sorted(latencies)
    if not ordered:
        return []
    last = len(ordered) - 1
    return [[share / 100, ordered[min(last, round(share / 100 * last))]] for share in range(101)]


def bench_sequential(bench: Bench) -> dict[str, Any]:
    """`sequential` requests one after another on one keep-alive connection: GET the player, then POST /act."""
    sizes = bench.sizes
    game = bench.server("game-1")
    player_id, token = bench.take("game-1", 1)[0]
    target = [{"path": f"/api/players/{player_id}", "headers": auth(token)}]
    bench.load.run(plan("sequential", game.url, "GET", target, [], count=20))  # warm-up
    get = summary(bench.load.run(plan("sequential", game.url, "GET", target, [], count=sizes.sequential)))
    target = [{"path": f"/api/players/{player_id}/act", "headers": auth(token)}]
    act = summary(bench.load.run(plan("sequential", game.url, "POST", target, ACT_BODIES, count=sizes.sequential)))
    return {"get": get, "act": act, "target": "GET p50 <= 2 ms, p99 <= 10 ms"}


def bench_scale(bench: Bench) -> dict[str, Any]:
    """RSS and `/act` p95 with many players and finished tasks in the store vs an empty one, rounds alternating.

    Both servers are fresh and run side by side; the rounds alternate so a noisy neighbour hits both alike.
    """
    sizes = bench.sizes
    empty_players, full_players = bench.take("empty", SCALE_CLIENTS), bench.players["full"]
    latencies: dict[str, list[dict[str, Any]]] = {"empty": [], "full": []}
    empty, full = bench.server("empty"), bench.server("full")
    idle = {"empty": empty.worker_rss_mb(), "full": full.worker_rss_mb()}
    # Every stored player acts once, so whatever the worker keeps per player is in its RSS.
    touch = plan(
        "burst",
        full.url,
        "POST",
        act_targets(full_players),
        ['{"text": "查看状态"}'],
        count=len(full_players),
        concurrency=50,
    )
    touched = summary(bench.load.run(touch))
    for _ in range(sizes.scale_rounds):
        for name, served, players in (
            ("empty", empty, empty_players),
            ("full", full, full_players[:SCALE_CLIENTS]),
        ):
            row = closed_act(bench, served.url, players, sizes.scale_round_seconds, warmup=0.5)
            latencies[name].append(row)
    loaded = {"empty": empty.worker_rss_mb(), "full": full.worker_rss_mb()}
    bench.done_with("empty", "full")
    p95 = {name: round(statistics.median(r["p95_ms"] for r in rows), 2) for name, rows in latencies.items()}
    return {
        "players": sizes.scale_players,
        "tasks": sizes.scale_tasks,
        "touch": touched,
        "rss_mb_idle": {k: round(v, 1) for k, v in idle.items()},
        "rss_mb_loaded": {k: round(v, 1) for k, v in loaded.items()},
        "p95_ms": p95,
        "p95_full_vs_empty": round(p95["full"] / p95["empty"], 3) if p95["empty"] else None,
        "rounds": latencies,
        "target": "RSS < 200 MB, p95 full <= 1.20 x empty",
    }


def bench_soak(bench: Bench) -> dict[str, Any]:
    """`soak_actions` actions by 100 players on keep-alive connections; the worker's RSS sampled throughout."""
    sizes = bench.sizes
    game = bench.server("game-1")
    players = bench.take("game-1", SOAK_PLAYERS)
    samples: list[list[float]] = []
    started = time.perf_counter()

    def sample() -> None:
        samples.append([round(time.perf_counter() - started, 2), round(game.worker_rss_mb(), 2)])

    spec = plan("closed", game.url, "POST", act_targets(players), ACT_BODIES, count=sizes.soak_actions)
    result = summary(bench.load.run(spec, sample=sample))
    sample()
    rss = [mb for _, mb in samples]
    half = len(rss) // 2
    window = max(1, len(rss) // 10)
    middle = statistics.median(rss[max(0, half - window) : half + window])
    end = statistics.median(rss[-window:])
    return result | {
        "actions": sizes.soak_actions,
        "rss_samples": samples,
        "rss_mb_middle": round(middle, 2),
        "rss_mb_end": round(end, 2),
        "growth_last_half_mb": round(end - middle, 2),
        "target": "no RSS growth over the last half (<= 2 MB)",
    }


@contextmanager
def bench_run(sizes: Sizes, tmp: Path) -> Iterator[Bench]:
    """The fake upstream for the whole run, and every server a scenario starts, stopped at the end."""
    from tests.support.fakellm.process import fake_upstream

    with ExitStack() as stack:
        upstream = stack.enter_context(fake_upstream(tmp / "fakellm.log", latency=sizes.latency))
        load = LoadProcess(tmp / "load.log")
        stack.callback(load.close)
        yield Bench(sizes, tmp, upstream, load, stack)
