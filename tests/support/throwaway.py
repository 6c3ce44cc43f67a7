"""A pytest plugin: throwaway PostgreSQL and Redis servers when nothing listens where the tests expect them.

`XIANXIA_TEST_DATABASE_URL` (default `postgresql://postgres@127.0.0.1:5432/test`) and `XIANXIA_TEST_REDIS_URL`
(default `redis://127.0.0.1:6379/0`) name the servers the suite uses. At start-up the plugin knocks on each
one's port; when a server answers, the suite uses it as it is. When nothing listens on a local address, it
starts one from Debian's binaries (installing `postgresql` / `redis-server` with apt when missing) on a free
port, in a temporary directory, points the variable at it for the whole run (subprocesses inherit it) and
stops it at the end. PostgreSQL's `initdb` refuses to run as root, so as root the server runs as `postgres`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.debian import install_package, require

DATABASE_VARIABLE = "XIANXIA_TEST_DATABASE_URL"
REDIS_VARIABLE = "XIANXIA_TEST_REDIS_URL"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})
START_TIMEOUT = 60.0


def listening(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_port(url: str, port: int) -> str:
    """`url` with its host made 127.0.0.1 and its port replaced."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


@dataclass
class Throwaway:
    """A server this run started: its process, its URL, and the directory it lives in."""

    what: str
    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    log_path: Path
    stop_signal: signal.Signals = signal.SIGTERM

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_the_run() -> None:
    """In the child before exec: be sent SIGTERM if the pytest process dies without stopping us (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_for(throwaway: Throwaway, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if throwaway.process.poll() is not None:
            break
        if listening("127.0.0.1", port, timeout=0.5):
            return
        time.sleep(0.1)
    log = throwaway.log_path.read_text(errors="replace")[-3000:]
    throwaway.stop()
    pytest.fail(f"the throwaway {throwaway.what} did not start on port {port}:\n{log}", pytrace=False)


def postgres_binaries() -> Path:
    """Debian's PostgreSQL binary directory (the newest major version), installing `postgresql` when missing."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        install_package("postgresql", "initdb")
        found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("initdb is missing after `apt-get install postgresql`", pytrace=False)
    return Path(found[-1]).parent


def _as_postgres() -> dict[str, object]:
    """Popen arguments that run a command as the `postgres` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs a `postgres` user for initdb (Debian's postgresql package adds it)")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def start_postgres(configured: str) -> Throwaway:
    """A fresh cluster on a free port, trust authentication, with the configured URL's user and database."""
    binaries = postgres_binaries()
    parts = urlsplit(configured)
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or "test"
    directory = Path(tempfile.mkdtemp(prefix="xianxia-test-postgres-"))
    data, sockets, log_path = directory / "data", directory / "sockets", directory / "postgres.log"
    sockets.mkdir()
    identity = _as_postgres()
    if identity:
        for path in (directory, sockets):
            os.chown(path, int(identity["user"]), int(identity["group"]))  # type: ignore[call-overload]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    initdb = subprocess.run(
        [str(binaries / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        **identity,  # type: ignore[arg-type]
    )
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{initdb.stdout[-2000:]}\n{initdb.stderr[-2000:]}", pytrace=False)
    port = free_port()
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}", "-c", "fsync=off"]
    settings += ["-c", "max_connections=300", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(data), "-p", str(port), *settings],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_the_run,
            **identity,  # type: ignore[arg-type]
        )
    url = with_port(configured, port)
    # SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for every session to end).
    throwaway = Throwaway("PostgreSQL", url, process, directory, log_path, signal.SIGINT)
    _wait_for(throwaway, port)
    _create_database(binaries, user, database, port, throwaway)
    return throwaway


def _create_database(binaries: Path, user: str, database: str, port: int, throwaway: Throwaway) -> None:
    """`createdb`, retried while the server finishes starting (it listens a moment before it accepts)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        created = subprocess.run(
            [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, database],
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode == 0 or "already exists" in created.stderr:
            return
        if time.monotonic() > deadline or throwaway.process.poll() is not None:
            throwaway.stop()
            pytest.fail(f"createdb {database} failed: {created.stderr[-2000:]}", pytrace=False)
        time.sleep(0.2)


def start_redis(configured: str) -> Throwaway:
    """redis-server on a free port, in memory only (no snapshot, no append-only file)."""
    binary = require("redis-server", "redis-server")
    directory = Path(tempfile.mkdtemp(prefix="xianxia-test-redis-"))
    log_path = directory / "redis.log"
    port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_the_run,
        )
    throwaway = Throwaway("Redis", with_port(configured, port), process, directory, log_path)
    _wait_for(throwaway, port)
    return throwaway


def ensure(variable: str, default: str, start: Callable[[str], Throwaway]) -> tuple[str, Throwaway | None]:
    """The URL the suite will use for `variable`: the configured one when it answers, else a throwaway's."""
    configured = os.environ.get(variable) or default
    parts = urlsplit(configured)
    if parts.hostname not in LOCAL_HOSTS or listening(parts.hostname or "127.0.0.1", parts.port or 0):
        return configured, None
    throwaway = start(configured)
    os.environ[variable] = throwaway.url
    return throwaway.url, throwaway


_STARTED: list[Throwaway] = []
_REPORT: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller set the variables up
        return
    for variable, default, start in (
        (DATABASE_VARIABLE, DEFAULT_DATABASE_URL, start_postgres),
        (REDIS_VARIABLE, DEFAULT_REDIS_URL, start_redis),
    ):
        url, throwaway = ensure(variable, default, start)
        if throwaway is None:
            _REPORT.append(f"{variable}: {url} (running)")
        else:
            _STARTED.append(throwaway)
            _REPORT.append(f"{variable}: {url} (throwaway {throwaway.what}, pid {throwaway.process.pid})")
    config.add_cleanup(_stop_all)


def _stop_all() -> None:
    while _STARTED:
        _STARTED.pop().stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return list(_REPORT)
