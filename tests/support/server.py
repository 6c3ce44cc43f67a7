"""Start the real app (`python -m xianxia serve`) in its own process group, on a free port, and stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0, *, accept_404: bool = False
) -> None:
    """Poll `url` until it answers 200 (or 404 when any answer will do), the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1.0).status_code in ((200, 404) if accept_404 else (200,)):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s:\n{log_path.read_text(errors='replace')}")


SERVING = "xianxia serving on "


def wait_until_serving(process: subprocess.Popen[bytes], log_path: Path, offset: int = 0, timeout: float = 60.0) -> str:
    """Wait for the supervisor's line saying every worker is ready (past `offset` in the log); its base URL."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        written = log_path.read_bytes()[offset:].decode(errors="replace")
        if SERVING in written:
            return written.split(SERVING, 1)[1].split()[0]
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    raise TimeoutError(f"workers not ready after {timeout} s:\n{log_path.read_text(errors='replace')}")


def worker_pids(master: int) -> set[int]:
    """The supervisor's live worker processes (its children that are not zombies)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, parent = fields[0], int(fields[1])
        if parent == master and state != "Z":
            found.add(int(stat.parent.name))
    return found


def stop(process: subprocess.Popen[Any], timeout: float = 15.0) -> int:
    """SIGTERM the whole process group, then SIGKILL it if it outstays the timeout."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    return process.returncode


@contextmanager
def hypercorn_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    rate_limits: bool = False,
    llm_open: bool = True,
) -> Iterator[Server]:
    """The app as `make run` serves it, with `env` added to the environment; yielded once every worker is ready.

    Like the benchmarks and load runs, end-to-end runs drive many players from one address: rate limits
    are off and the LLM routes open unless asked for (or `env` sets XIANXIA_RATE_LIMITS / XIANXIA_LLM_OPEN).
    """
    command = [sys.executable, "-m", "xianxia", "serve", "--host", "127.0.0.1", "--port", str(port or 0)]
    command += ["--workers", str(workers)]
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "XIANXIA_LOG_JSON": "1",
                "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="metrics-", dir=log_path.parent),
                "XIANXIA_RATE_LIMITS": "on" if rate_limits else "off",
                "XIANXIA_LLM_OPEN": "1" if llm_open else "0",
                **env,
            },
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = wait_until_serving(process, log_path, offset)
        wait_until_ready(f"{base_url}/healthz", process, log_path)
        yield Server(process, base_url, log_path)
    finally:
        stop(process)
