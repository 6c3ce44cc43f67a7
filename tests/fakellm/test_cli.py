"""`python -m tests.support.fakellm` as a process: announces its address, applies its options, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.fakellm.conftest import chat_body
from tests.support.fakellm.__main__ import build_config
from tests.support.server import ROOT, stop

READY = re.compile(r"^fakellm listening on (http://\S+)$")


def read_ready_line(process: subprocess.Popen[str], timeout: float = 15.0) -> str:
    """The base URL from the ready line, waiting at most `timeout` seconds for it."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"fakellm exited with {process.wait()} before it was ready")
        if match := READY.match(line.strip()):
            return match.group(1)
    raise TimeoutError(f"fakellm printed no ready line within {timeout} s")


@contextmanager
def fakellm_process(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "tests.support.fakellm", "--port", "0", "--log-level", "WARNING", *options]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process, read_ready_line(process)
    finally:
        stop(process)


def test_module_serves_on_a_free_port_with_its_options_and_exits_cleanly_on_sigterm() -> None:
    options = ("--key", "sk-cli", "--latency", "0.05", "--fault", "server_error=0.25", "--next", "rate_limit")
    with fakellm_process(*options) as (process, base_url), httpx.Client(base_url=base_url, timeout=5.0) as client:
        assert not base_url.endswith(":0")
        plan = client.get("/_control").json()
        first = client.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer sk-cli"})
        refused = client.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer sk-other"})
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(10)

    assert plan == {"latency": 0.05, "faults": {"server_error": 0.25}, "next": ["rate_limit"], "seed": 0}
    assert first.status_code == 429
    assert refused.status_code == 401
    assert returncode == 0


@pytest.mark.parametrize(
    "options", [["--fault", "meteor=0.1"], ["--fault", "server_error"], ["--fault", "drop=0.8", "--fault", "slow=0.5"]]
)
def test_bad_fault_options_are_refused_at_start(options: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_config(options)

    assert exited.value.code == 2
    assert "fault" in capsys.readouterr().err


def test_contrary_flag_starts_the_fake_disagreeing_on_purpose() -> None:
    assert build_config([])[0].reading == "faithful"
    assert build_config(["--contrary"])[0].reading == "contrary"
