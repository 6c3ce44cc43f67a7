"""The instances a chaos run drives: real `python -m xianxia serve` processes, each in its own process group.

Everything here blocks (it waits on processes and log lines); the run calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import ROOT, free_port, wait_until_serving, worker_pids

#: A disruption that outlasts this is a failure of the run, not a slow machine.
WAIT_LIMIT = 120.0


class ClusterError(RuntimeError):
    """An instance did not do what a disruption expected of it (start, replace a worker, reload, drain)."""


@dataclass
class Instance:
    """One instance: a supervisor with `workers` workers on a fixed port (a restart comes back on the same one)."""

    name: str
    workers: int
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: Exit codes of every stop by SIGTERM, in order; a drain that went well is 0.
    exit_codes: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ClusterError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        """Start the supervisor and wait until every worker is ready."""
        self.wait_serving(self.spawn())

    def spawn(self) -> int:
        """Start the supervisor; the log offset its start-up lines begin at (for `wait_serving`)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [sys.executable, "-m", "xianxia", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [*command, "--workers", str(self.workers)],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return offset

    def wait_serving(self, offset: int) -> None:
        """Wait for the supervisor's line saying every worker is ready."""
        if self.process is None:
            raise ClusterError(f"{self.name} is not running")
        try:
            wait_until_serving(self.process, self.log_path, offset, timeout=WAIT_LIMIT)
        except (RuntimeError, TimeoutError) as exc:
            raise ClusterError(f"{self.name} did not start: {exc}") from exc

    def worker_pids(self) -> set[int]:
        return worker_pids(self.pid)

    def kill_worker(self) -> float:
        """SIGKILL one worker (the oldest pid), wait until the supervisor has a full set again; when it was killed."""
        before = self._full_set()
        victim = min(before)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        self._wait(lambda: (now := self.worker_pids()) and len(now) == self.workers and victim not in now, "replace")
        return killed_at

    def reload(self) -> None:
        """SIGHUP, then wait for the supervisor's `reload_finished` and for every old worker to be gone."""
        before = self._full_set()
        offset = self.log_path.stat().st_size
        os.kill(self.pid, signal.SIGHUP)
        self._wait(lambda: self._logged("reload_finished", offset), "reload")
        self._wait(lambda: (now := self.worker_pids()) and len(now) == self.workers and not now & before, "retire")

    def terminate(self) -> int:
        """SIGTERM to the whole process group (as systemd, Docker and Kubernetes do); the exit code, recorded."""
        process = self.process
        if process is None:
            raise ClusterError(f"{self.name} is not running")
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait(WAIT_LIMIT)
        self.exit_codes.append(code)
        self.process = None
        return code

    def ensure_stopped(self) -> None:
        """At the very end (or after an error): stop the instance if it still runs, by SIGTERM."""
        if self.process is not None and self.process.poll() is None:
            self.terminate()

    def _full_set(self) -> set[int]:
        self._wait(lambda: len(self.worker_pids()) == self.workers, "workers")
        return self.worker_pids()

    def _logged(self, event: str, offset: int) -> bool:
        """Whether a JSON log line of `event` was written past `offset` (a line still being written waits)."""
        with self.log_path.open("rb") as log_file:
            log_file.seek(offset)
            return f'"event": {json.dumps(event)}'.encode() in log_file.read()

    def _wait(self, done: object, what: str) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ClusterError(f"{self.name} exited while waiting for {what}")
            if callable(done) and done():
                return
            time.sleep(0.05)
        raise ClusterError(f"{self.name}: no {what} after {WAIT_LIMIT} s")
