"""Start the project's fake DeepSeek upstream as a real process on a free port, and stop it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.server import ROOT, stop

READY = "fakellm listening on "


@contextmanager
def fake_upstream(log_path: Path, *options: str, latency: float = 0.05, timeout: float = 20.0) -> Iterator[str]:
    """Yield the base URL of a running `python -m tests.support.fakellm --port 0 [options]`."""
    command = [
        sys.executable,
        "-m",
        "tests.support.fakellm",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--latency",
        str(latency),
        *options,
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, text=True, start_new_session=True
        )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith(READY) or not line:
                break
        if not line.startswith(READY):
            raise RuntimeError(f"fake upstream did not start: {line!r}\n{log_path.read_text(errors='replace')}")
        yield line[len(READY) :].strip()
    finally:
        stop(process)
