"""Start a real Celery worker (`celery -A xianxia.worker worker`, as `make worker` does) in its own process group."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support.server import ROOT, stop

REDIS_URL = os.environ.get("XIANXIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed (apt-get install redis-server; set XIANXIA_TEST_REDIS_URL): {exc}")


def broker_env(*, visibility_timeout: float = 3.0) -> dict[str, str]:
    """Broker settings of one test: the local Redis under a key prefix and a queue of its own (parallel runs)."""
    run = secrets.token_hex(4)
    return {
        "XIANXIA_TASK_BROKER": REDIS_URL,
        "XIANXIA_REDIS_PREFIX": f"test-celery-{run}",
        "XIANXIA_TASK_QUEUE": f"test-tasks-{run}",
        "XIANXIA_TASK_VISIBILITY_TIMEOUT": str(visibility_timeout),
    }


def forget_broker_keys(env: Mapping[str, str]) -> None:
    """Delete every Redis key the run's prefix covers."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{env['XIANXIA_REDIS_PREFIX']}:*", count=500))
    if keys:
        client.delete(*keys)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path
    offset: int = 0

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for the worker's `ready.` line (it consumes from then on)."""
        deadline = time.monotonic() + timeout
        while "ready." not in self.log_path.read_bytes()[self.offset :].decode(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"celery worker not ready after {timeout} s:\n{self.logs()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a lost machine would end it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def celery_worker(env: Mapping[str, str], log_path: Path, *, wait: bool = True) -> Iterator[Worker]:
    """A worker on the run's queue with one pool process (ready unless `wait` is false); stopped on exit."""
    name = f"test-{secrets.token_hex(3)}@%h"
    command = [sys.executable, "-m", "celery", "-A", "xianxia.worker", "worker", "--loglevel", "INFO"]
    command += ["--pool", "prefork", "--concurrency", "1", "-n", name, "-Q", env["XIANXIA_TASK_QUEUE"]]
    command += ["--without-gossip", "--without-mingle"]
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "XIANXIA_LOG_JSON": "1", **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path, offset)
    try:
        if wait:
            worker.wait_ready()
        yield worker
    finally:
        stop(process)
