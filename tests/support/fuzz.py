"""Schemathesis over the real app: `python -m xianxia serve` on an SQLite file, rules-only or on the fake upstream.

Each run starts the server, creates a player (and, with the LLM, a queued task) so that generated requests
reach the handlers with the credentials they need, then runs schemathesis's own runner (`schemathesis run`:
examples, coverage, fuzzing and its stateful phase) over the served document, then once more over the operations
with an id in their path with the ids generated instead of fixed, plus a hand-written stateful
sequence (create -> act -> log) through schemathesis's Python API. The gate: no server error, no answer off
its documented schema or media type, no status the document does not list.

    python -m tests.support.fuzz                  # both modes, 200 examples per operation (make fuzz)
    python -m tests.support.fuzz --examples 50 --mode llm --seed 7
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server

MODES = ("rules", "llm")
ADMIN_TOKEN = "fuzz-admin"
SERVICE_TOKEN = "fuzz-service"
#: What the gate checks, by schemathesis's names.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
)


@dataclass
class FuzzReport:
    """One mode's run: schemathesis's counts and failures, and the hand-written sequence's."""

    mode: str
    exit_code: int
    cases: int
    failures: list[dict[str, Any]]
    errors: list[Any]
    operations: int
    sequences: int = 0
    sequence_failures: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def clean(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors and not self.sequence_failures

    def summary(self) -> str:
        failed = ", ".join(f"{f['code']} {f['title']} on {', '.join(f['operations'])}" for f in self.failures)
        return (
            f"{self.mode}: {self.cases} cases over {self.operations} operations, {len(self.failures)} failures"
            f"{': ' + failed if failed else ''}; {self.sequences} create->act->log sequences, "
            f"{len(self.sequence_failures)} failed"
        )


@dataclass
class Target:
    base_url: str
    player_id: str
    player_token: str
    task_id: str | None


def _env(mode: str, database: Path, upstream_url: str | None) -> dict[str, str]:
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{database}",
        "XIANXIA_ADMIN_TOKEN": ADMIN_TOKEN,
        "XIANXIA_LLM_TOKEN": SERVICE_TOKEN,
        "XIANXIA_RATE_LIMITS": "off",  # many generated requests from one address: limits would answer 429
        "XIANXIA_LOG_LEVEL": "WARNING",
    }
    if mode == "llm":
        assert upstream_url is not None
        env |= {"DEEPSEEK_API_KEY": "fake-key", "DEEPSEEK_BASE_URL": upstream_url, "XIANXIA_LLM_MODE": "async"}
    return env


@contextmanager
def running(mode: str, directory: Path) -> Iterator[Target]:
    """The app in `mode` with a player (and with the LLM a queued task) to aim generated requests at."""
    with ExitStack() as stack:
        upstream = stack.enter_context(fake_upstream(directory / "fakellm.log")) if mode == "llm" else None
        env = _env(mode, directory / "fuzz.db", upstream)
        server = stack.enter_context(hypercorn_server(env, directory / "server.log", llm_open=False))
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            created = client.post("/api/players", json={"name": "试炼"}).json()
            task_id = None
            if mode == "llm":
                queued = client.post(
                    "/api/llm/batch",
                    json={"prompts": ["问道"], "mode": "task"},
                    headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
                )
                task_id = queued.json()["task_id"]
        yield Target(server.base_url, created["player"]["id"], created["token"], task_id)


def config(mode: str, target: Target, *, fixed_ids: bool = True) -> str:
    """schemathesis.toml: fixed ids (unless the ids themselves are fuzzed), and each route family's credential."""
    parameters = {"player_id": target.player_id} | ({"task_id": target.task_id} if target.task_id else {})
    lines = ["[parameters]", *(f"{name} = {json.dumps(value)}" for name, value in parameters.items()), ""]
    if not fixed_ids:
        lines = []
    for pattern, token in (
        ("^/api/players/", target.player_token),
        ("^/(api/admin/|metrics$)", ADMIN_TOKEN),
        ("^/api/llm/", SERVICE_TOKEN),
    ):
        lines += ["[[operations]]", f"include-path-regex = {json.dumps(pattern)}"]
        lines += [f"headers = {{ Authorization = {json.dumps('Bearer ' + token)} }}", ""]
    if mode == "llm":
        # Switching the mode off would turn every later LLM call into the designed 503; the rules run fuzzes it.
        lines += ["[[operations]]", 'include-name = "PUT /api/admin/mode"', "enabled = false", ""]
    if mode == "rules":
        # Without an upstream key the LLM routes answer the designed, documented 503 `llm_unavailable`;
        # status_code_conformance and response_schema_conformance still check it.
        lines += ["[[operations]]", 'include-path-regex = "^/api/llm/(chat|batch)"']
        lines += ['checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]', ""]
    return "\n".join(lines)


def run_schemathesis(
    mode: str, target: Target, directory: Path, *, examples: int, seed: int, fixed_ids: bool = True
) -> FuzzReport:
    """`schemathesis run` over the served document; its JSON report read back. Without `fixed_ids` only the
    operations with an id in their path run, with generated ids (the credentials still reach the checks)."""
    name = "schemathesis" if fixed_ids else "schemathesis-ids"
    settings = directory / f"{name}.toml"
    settings.write_text(config(mode, target, fixed_ids=fixed_ids))
    report = directory / f"{name}.json"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(settings),
        "run",
        f"{target.base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--workers",
        "1",  # hypothesis's lambda descriptions are not thread-safe on Python 3.11 (AST recursion error)
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *([] if fixed_ids else ["--include-path-regex", "[{]"]),
    ]
    # In the run's own directory: schemathesis keeps a cache (.schemathesis/) where it runs.
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {done.returncode}):\n{output[-5000:]}")
    data = json.loads(report.read_text())
    return FuzzReport(
        mode=mode,
        exit_code=done.returncode,
        cases=data["test_cases"]["generated"],
        failures=data["failures"],
        errors=data["errors"],
        operations=data["operations"]["tested"],
        output=output,
    )


def run_sequences(target: Target, *, examples: int, seed: int) -> tuple[int, list[str]]:
    """Create a player from a generated body, act on it with generated actions, read its log: all validated."""
    import hypothesis
    import schemathesis
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
    schema = schemathesis.openapi.from_url(f"{target.base_url}/openapi.json")
    create = schema["/api/players"]["POST"]
    act = schema["/api/players/{player_id}/act"]["POST"]
    log = schema["/api/players/{player_id}/log"]["GET"]
    sequences = 0
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @hypothesis.seed(seed)
    @hypothesis.given(data=st.data())
    def sequence(data: st.DataObject) -> None:
        nonlocal sequences
        sequences += 1
        try:
            created = data.draw(create.as_strategy()).call_and_validate(base_url=target.base_url, checks=checks)
            if created.status_code != 201:
                return
            player = created.json()
            auth = {"Authorization": f"Bearer {player['token']}"}
            where = {"player_id": player["player"]["id"]}
            for _ in range(data.draw(st.integers(1, 3))):
                step = data.draw(act.as_strategy(path_parameters=where, headers=auth))
                step.call_and_validate(base_url=target.base_url, checks=checks)
            data.draw(log.as_strategy(path_parameters=where, headers=auth)).call_and_validate(
                base_url=target.base_url, checks=checks
            )
        except AssertionError as exc:  # schemathesis raises its check failures as AssertionError subclasses
            failures.append(str(exc)[:2000])

    sequence()
    return sequences, failures


def fuzz(mode: str, directory: Path, *, examples: int, sequences: int, seed: int = 1) -> FuzzReport:
    """One mode end to end: server up, schemathesis's run, the hand-written sequences, server down."""
    with running(mode, directory) as target:
        report = run_schemathesis(mode, target, directory, examples=examples, seed=seed)
        ids = run_schemathesis(mode, target, directory, examples=examples, seed=seed, fixed_ids=False)
        report.cases += ids.cases
        report.failures += ids.failures
        report.errors += ids.errors
        report.exit_code = report.exit_code or ids.exit_code
        report.output += ids.output
        report.sequences, report.sequence_failures = run_sequences(target, examples=sequences, seed=seed)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--examples", type=int, default=200, help="generated cases per operation and phase")
    parser.add_argument("--sequences", type=int, default=50, help="create -> act -> log sequences")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="print schemathesis output even when clean")
    args = parser.parse_args(argv)
    clean = True
    for mode in MODES if args.mode == "both" else (args.mode,):
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{mode}-") as directory:
            report = fuzz(mode, Path(directory), examples=args.examples, sequences=args.sequences, seed=args.seed)
        if not report.clean:
            print(report.output[-20000:])
            for failure in report.sequence_failures:
                print(failure)
        print(report.summary(), flush=True)
        if args.keep:
            print(report.output[-30000:])
        clean = clean and report.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
