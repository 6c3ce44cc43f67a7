"""`make test` stands on its own: with nothing listening where the suite expects PostgreSQL and Redis, a run
starts throwaway servers from Debian's binaries, its store and Redis tests pass against them, and it stops them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import free_port
from tests.support.throwaway import DATABASE_VARIABLE, REDIS_VARIABLE, listening

ROOT = Path(__file__).resolve().parents[1]
#: One PostgreSQL store test and one Redis test of the suite, as they are.
TESTS = [
    "tests/store/test_settings_and_tasks.py::test_settings_are_absent_until_set_and_overwritten_in_place[postgres]",
    "tests/web/test_limits.py::test_limits_held_in_redis_are_shared_by_every_counter_on_the_same_prefix",
]


def test_a_run_with_no_servers_listening_starts_its_own_and_passes_against_them() -> None:
    database_port, redis_port = free_port(), free_port()
    assert not listening("127.0.0.1", database_port) and not listening("127.0.0.1", redis_port)
    env = {
        **os.environ,
        DATABASE_VARIABLE: f"postgresql://postgres@127.0.0.1:{database_port}/test",  # nothing listens here
        REDIS_VARIABLE: f"redis://127.0.0.1:{redis_port}/0",
    }

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-cov", *TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "2 passed" in output, output
    started = dict(re.findall(r"(XIANXIA_TEST_\w+): (\S+) \(throwaway", output))
    assert set(started) == {DATABASE_VARIABLE, REDIS_VARIABLE}, output
    ports = {variable: int(url.rsplit(":", 1)[1].split("/")[0]) for variable, url in started.items()}
    assert ports[DATABASE_VARIABLE] not in (database_port, 5432) and ports[REDIS_VARIABLE] not in (redis_port, 6379)
    assert not any(listening("127.0.0.1", port) for port in ports.values()), "the throwaway servers were not stopped"


def test_a_run_with_servers_listening_uses_them() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-cov", "--co", TESTS[0]],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key not in (DATABASE_VARIABLE, REDIS_VARIABLE)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{DATABASE_VARIABLE}: postgresql://postgres@127.0.0.1:5432/test (running)" in run.stdout
    assert f"{REDIS_VARIABLE}: redis://127.0.0.1:6379/0 (running)" in run.stdout
    assert "throwaway" not in run.stdout
