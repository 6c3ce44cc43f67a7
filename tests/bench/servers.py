"""The processes a bench run measures: the app and the yardsticks under our serving layer, the old Flask
service under gunicorn, and what each one costs (CPU seconds of its process group, a worker's RSS)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import ROOT, free_port, stop, wait_until_ready, wait_until_serving, worker_pids

#: Production defaults but for the edge: one address drives thousands of players (DESIGN.md, "Limits").
LOAD_EDGE = {"XIANXIA_RATE_LIMITS": "off", "XIANXIA_LLM_OPEN": "1"}
GAME_APP = "xianxia.web.app:create_app()"
BARE_APP = "tests.bench.bare_app:app"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, port and the pid of its process group's leader."""

    url: str
    pid: int

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process in the server's group (supervisor and workers)."""
        return group_cpu_seconds(self.pid)

    def worker_rss_mb(self) -> float:
        """Resident memory of the largest worker (the supervisor when it serves alone)."""
        pids = worker_pids(self.pid) or {self.pid}
        return max(rss_mb(pid) for pid in pids)


def group_cpu_seconds(group: int) -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Pending:
    """A server process started but perhaps not ready yet: several start at once, then each is waited on."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, offset: int, probe: str | None) -> None:
        self.process, self.log, self.offset, self.probe = process, log, offset, probe
        self.url = ""

    def ready(self) -> Served:
        if not self.url:
            if self.probe is None:  # our serving layer prints its address once every worker is ready
                self.url = wait_until_serving(self.process, self.log, self.offset)
                wait_until_ready(f"{self.url}/healthz", self.process, self.log, accept_404=True)
            else:
                self.url = self.probe
                wait_until_ready(f"{self.url}/healthz", self.process, self.log)
        return Served(self.url, self.process.pid)

    def stop(self) -> None:
        stop(self.process)


def start(app: str, env: Mapping[str, str], log: Path, *, workers: int = 1) -> Pending:
    """`python -m xianxia serve --app APP` on a free port, with production settings but the load edge."""
    command = [sys.executable, "-m", "xianxia", "serve", "--app", app, "--host", "127.0.0.1", "--port", "0"]
    command += ["--workers", str(workers)]
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "XIANXIA_LOG_JSON": "1",
                "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="metrics-", dir=log.parent),
                **LOAD_EDGE,
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Pending(process, log, offset, None)


def start_flask(upstream: str, log: Path, *, threads: int) -> Pending:
    """The old service: Flask async views under gunicorn's gthread worker, one process, `threads` threads."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads", str(threads)]
    command += ["-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning", "tests.bench.flask_app:app"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "BENCH_UPSTREAM": upstream},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Pending(process, log, 0, f"http://127.0.0.1:{port}")


@contextmanager
def running(*pending: Pending) -> Iterator[list[Served]]:
    """Wait for servers started together; stop them all on the way out."""
    try:
        yield [one.ready() for one in pending]
    finally:
        for one in pending:
            one.stop()
