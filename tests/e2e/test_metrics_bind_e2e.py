"""`/metrics` closed to anonymous callers on the main port; XIANXIA_METRICS_BIND serves every worker's sum."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import ROOT, free_port, hypercorn_server

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer bind-admin"}


def requests_counted(exposition: str, route: str) -> float:
    found = re.search(
        rf'^xianxia_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}} (\S+)', exposition, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_the_bind_serves_every_workers_samples_and_the_main_port_wants_the_token(tmp_path: Path) -> None:
    bind = f"127.0.0.1:{free_port()}"
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        "XIANXIA_ADMIN_TOKEN": "bind-admin",
        "XIANXIA_METRICS_BIND": bind,
        "XIANXIA_HEADER_TIMEOUT": "1",
    }
    with hypercorn_server(env, tmp_path / "server.log", workers=2) as server:
        assert f"xianxia metrics on http://{bind}/metrics" in server.logs()
        pids = set()
        for _ in range(20):  # a fresh connection each: the kernel spreads them over both workers
            answer = httpx.get(f"{server.base_url}/api/world/realms")
            assert answer.status_code == 200
        for _ in range(20):
            pids.add(httpx.get(f"{server.base_url}/healthz").json()["pid"])
        assert len(pids) == 2, pids

        scraped = httpx.get(f"http://{bind}/metrics")
        assert scraped.status_code == 200, scraped.text
        assert scraped.headers["content-type"].startswith("text/plain")
        assert requests_counted(scraped.text, "/api/world/realms") == 20  # summed over both workers
        assert len(set(re.findall(r'^xianxia_worker_cpu_seconds{pid="(\d+)"}', scraped.text, re.M))) == 2

        assert httpx.get(f"http://{bind}/").status_code == 404
        assert httpx.get(f"http://{bind}/api/world/realms").status_code == 404
        assert httpx.post(f"http://{bind}/metrics").status_code == 405

        anonymous = httpx.get(f"{server.base_url}/metrics")
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
        assert "xianxia_" not in anonymous.text
        wrong = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 403
        admin = httpx.get(f"{server.base_url}/metrics", headers=ADMIN)
        assert admin.status_code == 200 and requests_counted(admin.text, "/api/world/realms") == 20

        # A client that never finishes its headers is answered 408 and cut at the header timeout.
        with socket.create_connection(tuple(bind.rsplit(":", 1)), timeout=30) as trickle:  # type: ignore[arg-type]
            trickle.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            reply = b""
            while chunk := trickle.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 ")


def test_a_metrics_bind_that_is_taken_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "xianxia", "serve", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            env={
                **os.environ,
                "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
                "XIANXIA_METRICS_BIND": f"127.0.0.1:{port}",
                "XIANXIA_LOG_JSON": "1",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "bind_failed" in result.stdout + result.stderr
    assert "xianxia serving on" not in result.stdout
