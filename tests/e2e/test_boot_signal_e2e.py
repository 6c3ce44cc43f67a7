"""SIGTERM while the workers are still booting is a drain like any other: the instance exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.server import ROOT, worker_pids

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("target", ["group", "master"])
def test_sigterm_during_worker_boot_exits_0(tmp_path: Path, target: str) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "xianxia", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'game.db'}", "XIANXIA_LOG_JSON": "1"},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not worker_pids(process.pid):  # spawned, not yet ready
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.01)
        if target == "group":
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    logs = log_path.read_text()
    assert code == 0, logs[-3000:]
    assert '"event": "supervisor_stopped"' in logs, logs[-3000:]
