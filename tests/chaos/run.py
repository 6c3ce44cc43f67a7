"""`make chaos` / `python -m tests.chaos.run --backend sqlite|postgres`: players on the LLM path while the
fake upstream fails and the service is killed, drained, reloaded and restarted; then the ledger is checked
against the store.

The run, under load all along:
1. SIGKILL one worker of the first instance; its supervisor replaces it.
2. SIGHUP to the first instance: a rolling reload of its workers.
3. SIGTERM to the whole process group of the last instance (the only one on SQLite): it drains and exits 0;
   it is started again on the same port.
Each step waits until enough actions were acknowledged since the one before. Then the load stops, every
instance gets SIGTERM, and the store is read directly: every acknowledged action is there with the answer
its client got, nothing was applied twice, every player's replay reproduces its stored state, and on SQLite
`PRAGMA integrity_check` says ok. Zero lost, zero replay differences, zero empty replies (a connection
closed with no answer, other than by the SIGKILL), zero failed actions (LLM faults fall back to the rules
parser) and exit code 0 of every drained instance make the run pass (exit status 0).

`--rollback` runs it against the automatic rollback (issue 15):
- `above` (the default): its thresholds sit above the injected fault rate, so the LLM path stays under test to
  the end, and the run requires the mode still on;
- `below`: its error-rate limit sits below the injected rate, so the rollback must fire (the mode ends `off`)
  and still no action fails, since the rules parser takes over;
- `none`: the service's own defaults, whatever they make of the faults.
`--set VAR=VALUE` overrides any of these settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from tests.chaos.cluster import Instance
from tests.chaos.players import Cut, Ledger, Player, create_players, play
from tests.chaos.verify import Verdict, verify
from tests.support.databases import database_url
from tests.support.fakellm.process import fake_upstream
from tests.support.throwaway import DATABASE_VARIABLE, DEFAULT_DATABASE_URL, ensure, start_postgres

Backend = Literal["sqlite", "postgres"]
Rollback = Literal["none", "above", "below"]
ADMIN_TOKEN = "chaos-admin"
#: No progress at all for this long ends the run as failed.
STALL_LIMIT = 120.0


@dataclass(frozen=True)
class Scenario:
    backend: Backend = "sqlite"
    players: int = 24
    workers: int = 3
    #: SQLite: one instance (one file); PostgreSQL: several sharing one schema.
    instances: int | None = None
    #: Actions acknowledged between two disruptions (and before the first, and after the last).
    actions_between: int = 150
    server_error_rate: float = 0.4  # 5xx, half 500 and half 503
    rate_limit_rate: float = 0.1  # 429
    upstream_latency: float = 0.05
    seed: int = 14
    rollback: Rollback = "above"
    settings: dict[str, str] = field(default_factory=dict)  # more variables for every instance

    @property
    def rollback_settings(self) -> dict[str, str]:
        """The thresholds that put the injected fault rate above or below the rollback's limit."""
        if self.rollback == "above":
            return {"XIANXIA_ROLLBACK_ERROR_RATE": "1", "XIANXIA_ROLLBACK_P95_SECONDS": "60"}
        if self.rollback == "below":
            injected = self.server_error_rate + self.rate_limit_rate
            return {"XIANXIA_ROLLBACK_ERROR_RATE": f"{injected / 10:g}", "XIANXIA_ROLLBACK_MIN_CALLS": "5"}
        return {}

    @property
    def instance_count(self) -> int:
        if self.instances is not None:
            return self.instances
        return 1 if self.backend == "sqlite" else 2


@dataclass
class Report:
    scenario: Scenario
    ledger: Ledger
    verdict: Verdict
    disruptions: list[tuple[str, float]]  # (what, seconds since the load began)
    exit_codes: dict[str, list[int]]
    upstream: dict[str, int]
    final_mode: str
    seconds: float
    began: float  # monotonic instant the load began; the disruptions' instants are on the same clock
    logs: list[Path] = field(default_factory=list)  # the instances' logs, to show what became of a cut request
    traced: dict[str, list[str]] = field(default_factory=dict)  # read by `seal`, before the logs are gone

    def seal(self) -> None:
        """Read what the instances logged for every unexplained cut while their logs still exist."""
        self.traced = {cut.request_id: self.traces(cut.request_id) for cut in self.ledger.cuts if not self._killed(cut)}

    def traces(self, request_id: str) -> list[str]:
        """The events the instances logged for one attempt (by its X-Request-ID), with their status if any."""
        if request_id in self.traced:
            return self.traced[request_id]
        found = []
        needle = f'"request_id": "{request_id}"'
        for path in self.logs:
            for line in path.read_text(errors="replace").splitlines():
                if needle in line:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    status = entry.get("status")
                    found.append(f"{entry.get('event')}{f' {status}' if status is not None else ''}")
        return found

    def _killed(self, cut: Cut) -> bool:
        kills = [at for what, at in self.disruptions if what.startswith("SIGKILL")]
        return any(cut.started <= kill <= cut.ended for kill in kills)

    @property
    def empty_replies(self) -> int:
        """Connections closed with no answer while no SIGKILL happened during the request."""
        return sum(1 for cut in self.ledger.cuts if not self._killed(cut))

    @property
    def problems(self) -> list[str]:
        found = []
        if self.verdict.lost:
            found.append(f"{len(self.verdict.lost)} acknowledged actions lost: {self.verdict.lost[:5]}")
        if self.verdict.applied_twice:
            found.append(f"players with an action applied twice: {self.verdict.applied_twice[:5]}")
        if self.verdict.replay_differs:
            found.append(f"replays differ: {self.verdict.replay_differs[:3]}")
        if self.empty_replies:
            found.append(f"{self.empty_replies} empty replies from a draining process")
        if self.ledger.failed:
            found.append(f"{len(self.ledger.failed)} failed actions: {self.ledger.failed[:5]}")
        if self.verdict.integrity not in ("ok", "n/a"):
            found.append(f"integrity_check: {self.verdict.integrity}")
        bad_exits = {name: codes for name, codes in self.exit_codes.items() if any(codes)}
        if bad_exits:
            found.append(f"instances that did not exit 0 on SIGTERM: {bad_exits}")
        if self.ledger.acknowledged == 0:
            found.append("no action was acknowledged")
        if self.scenario.rollback == "below" and self.final_mode != "off":
            found.append(f"the rollback did not fire (mode {self.final_mode})")
        if self.scenario.rollback == "above" and self.final_mode == "off":
            found.append("the LLM path was switched off with its thresholds above the injected faults")
        return found

    def render(self) -> str:
        s, ledger, verdict = self.scenario, self.ledger, self.verdict
        kills = len(ledger.cuts) - self.empty_replies
        lines = [
            f"chaos on {s.backend}: {s.instance_count} instance(s) x {s.workers} workers, {s.players} players, "
            f"upstream faults {s.server_error_rate:.0%} 5xx + {s.rate_limit_rate:.0%} 429, rollback run: {s.rollback}",
            "disruptions: " + ", ".join(f"{what} at {at - self.began:.1f}s" for what, at in self.disruptions),
            f"actions acknowledged: {ledger.acknowledged} in {self.seconds:.1f}s "
            f"(parser llm {ledger.parsers.get('llm', 0)}, rules {ledger.parsers.get('rules', 0)}; "
            f"degraded {ledger.degraded}; replayed from their key {ledger.replayed})",
            f"upstream answers: {self.upstream}",
            f"connections refused (retried elsewhere or later): {ledger.refused}",
            f"requests cut by the SIGKILL (retried with their key): {kills}",
            f"empty replies from a draining process: {self.empty_replies}",
            *(
                f"  closed with no answer: {cut.error}, sent at {cut.started - self.began:.2f}s, "
                f"closed at {cut.ended - self.began:.2f}s, X-Request-ID {cut.request_id}"
                + ("" if self._killed(cut) else f"; logged: {self.traces(cut.request_id)}")
                for cut in ledger.cuts
            ),
            f"failed player actions: {len(ledger.failed)}",
            f"acknowledged actions lost: {len(verdict.lost)}; applied twice: {len(verdict.applied_twice)}; "
            f"players whose replay differs: {len(verdict.replay_differs)} of {verdict.players} "
            f"({verdict.log_entries} log entries)",
            f"instance exit codes on SIGTERM: {self.exit_codes}",
            f"sqlite integrity_check: {verdict.integrity}",
            f"LLM mode at the end: {self.final_mode}",
            "PASS" if not self.problems else "FAIL: " + "; ".join(self.problems),
        ]
        return "\n".join(lines)


def instance_env(scenario: Scenario, upstream_url: str, database: str, metrics_dir: Path) -> dict[str, str]:
    return {
        "XIANXIA_DATABASE_URL": database,
        "DEEPSEEK_API_KEY": "fake-key",
        "DEEPSEEK_BASE_URL": upstream_url,
        "XIANXIA_LLM_MODE": "async",
        "XIANXIA_LLM_OPEN": "1",
        "XIANXIA_RATE_LIMITS": "off",
        "XIANXIA_ADMIN_TOKEN": ADMIN_TOKEN,
        "XIANXIA_LOG_JSON": "1",
        "XIANXIA_LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **scenario.rollback_settings,
        **scenario.settings,
    }


def fault_options(scenario: Scenario) -> list[str]:
    half = scenario.server_error_rate / 2
    return [
        f"--fault=server_error={half}",
        f"--fault=unavailable={half}",
        f"--fault=rate_limit={scenario.rate_limit_rate}",
        f"--seed={scenario.seed}",
        "--log-level=WARNING",
    ]


async def _wait_for_acks(ledger: Ledger, target: int, tasks: list[asyncio.Task[None]]) -> None:
    last, since = ledger.acknowledged, time.monotonic()
    while ledger.acknowledged < target:
        for task in tasks:
            if task.done():
                task.result()  # a player that crashed ends the run with its error
        if ledger.acknowledged != last:
            last, since = ledger.acknowledged, time.monotonic()
        elif time.monotonic() - since > STALL_LIMIT:
            raise RuntimeError(f"no action acknowledged for {STALL_LIMIT} s (at {last} of {target})")
        await asyncio.sleep(0.05)


async def drive(scenario: Scenario, instances: list[Instance], upstream_url: str, database: str) -> Report:
    urls = [instance.base_url for instance in instances]
    ledger = Ledger()
    disruptions: list[tuple[str, float]] = []
    limits = httpx.Limits(max_connections=scenario.players * 2, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        players: list[Player] = await create_players(client, urls, scenario.players)
        stop = asyncio.Event()
        began = time.monotonic()
        tasks = [asyncio.create_task(play(client, urls, player, ledger, stop)) for player in players]
        step = scenario.actions_between
        first, last = instances[0], instances[-1]
        try:
            await _wait_for_acks(ledger, step, tasks)
            disruptions.append(("SIGKILL a worker", await asyncio.to_thread(first.kill_worker)))
            await _wait_for_acks(ledger, ledger.acknowledged + step, tasks)
            disruptions.append(("SIGHUP", time.monotonic()))
            await asyncio.to_thread(first.reload)
            await _wait_for_acks(ledger, ledger.acknowledged + step, tasks)
            disruptions.append(("SIGTERM an instance", time.monotonic()))
            await asyncio.to_thread(last.terminate)
            disruptions.append(("restart", time.monotonic()))
            await asyncio.to_thread(last.start)
            await _wait_for_acks(ledger, ledger.acknowledged + step, tasks)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        seconds = time.monotonic() - began
        for task in tasks:
            task.result()
        final_mode = (
            await client.get(f"{urls[0]}/api/admin/mode", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        ).json()["mode"]
        stats = (await client.get(f"{upstream_url}/_stats")).json()
    await asyncio.gather(*(asyncio.to_thread(instance.terminate) for instance in instances))
    verdict = await verify(database, ledger)
    return Report(
        scenario=scenario,
        ledger=ledger,
        verdict=verdict,
        disruptions=disruptions,
        exit_codes={instance.name: instance.exit_codes for instance in instances},
        upstream=dict(sorted(stats["by_outcome"].items())),
        final_mode=final_mode,
        seconds=seconds,
        began=began,
        logs=[instance.log_path for instance in instances],
    )


@contextlib.contextmanager
def _database(backend: Backend, directory: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema in the test PostgreSQL (a throwaway server when none listens)."""
    throwaway = None
    if backend == "postgres":
        _, throwaway = ensure(DATABASE_VARIABLE, DEFAULT_DATABASE_URL, start_postgres)
    try:
        with database_url(backend, directory) as url:
            yield url
    finally:
        if throwaway is not None:
            throwaway.stop()


def run(scenario: Scenario, directory: Path | None = None) -> Report:
    """The whole run: upstream, database, instances, load and disruptions, verification."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xianxia-chaos-")))
        upstream_url = stack.enter_context(
            fake_upstream(directory / "fakellm.log", *fault_options(scenario), latency=scenario.upstream_latency)
        )
        database = stack.enter_context(_database(scenario.backend, directory))
        metrics_dir = directory / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        env = instance_env(scenario, upstream_url, database, metrics_dir)
        instances = [
            Instance(f"instance{i + 1}", scenario.workers, env, directory / f"instance{i + 1}.log")
            for i in range(scenario.instance_count)
        ]
        for instance in instances:
            stack.callback(instance.ensure_stopped)
        offsets = [instance.spawn() for instance in instances]  # they boot side by side
        for instance, offset in zip(instances, offsets, strict=True):
            instance.wait_serving(offset)
        report = asyncio.run(drive(scenario, instances, upstream_url, database))
        report.seal()  # a temporary directory goes with the stack, the instances' logs with it
        return report
    raise AssertionError("unreachable")  # pragma: no cover


def parse_args(argv: list[str] | None = None) -> tuple[Scenario, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--players", type=int, default=Scenario.players)
    parser.add_argument("--workers", type=int, default=Scenario.workers)
    parser.add_argument("--instances", type=int, default=None, help="default: 1 on sqlite, 2 on postgres")
    parser.add_argument("--actions-between", type=int, default=Scenario.actions_between)
    parser.add_argument("--server-error-rate", type=float, default=Scenario.server_error_rate)
    parser.add_argument("--rate-limit-rate", type=float, default=Scenario.rate_limit_rate)
    parser.add_argument("--upstream-latency", type=float, default=Scenario.upstream_latency)
    parser.add_argument("--seed", type=int, default=Scenario.seed)
    parser.add_argument("--rollback", choices=("none", "above", "below"), default=Scenario.rollback)
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE", help="a setting of every instance")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and the SQLite file in this directory")
    args = parser.parse_args(argv)
    settings = {}
    for option in args.set:
        name, sep, value = option.partition("=")
        if not sep:
            parser.error(f"--set {option!r}: expected VAR=VALUE")
        settings[name] = value
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    scenario = Scenario(
        backend=args.backend,
        players=args.players,
        workers=args.workers,
        instances=args.instances,
        actions_between=args.actions_between,
        server_error_rate=args.server_error_rate,
        rate_limit_rate=args.rate_limit_rate,
        upstream_latency=args.upstream_latency,
        seed=args.seed,
        rollback=args.rollback,
        settings=settings,
    )
    return scenario, args.keep


def main(argv: list[str] | None = None) -> int:
    scenario, keep = parse_args(argv)
    report = run(scenario, keep)
    print(report.render(), flush=True)
    return 1 if report.problems else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
