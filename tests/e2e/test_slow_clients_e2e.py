"""Slow and idle clients are cut at the configured limits while normal clients are answered; a worker's cap holds."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.server import hypercorn_server

pytestmark = pytest.mark.e2e

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"x" * 400 + b"\r\n\r\n"
BOUND = 30.0  # seconds any one wait may take before the test gives up


def connect(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    sock = socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=BOUND)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset) without an answer."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_trickling_and_silent_clients_are_cut_while_a_normal_client_is_answered(tmp_path: Path) -> None:
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'slow.db'}",
        "XIANXIA_HEADER_TIMEOUT": "1",
        "XIANXIA_FIRST_REQUEST_TIMEOUT": "1",
        "XIANXIA_KEEP_ALIVE_TIMEOUT": "60",
    }
    with hypercorn_server(env, tmp_path / "server.log", workers=1) as server:
        silent = connect(server.base_url)
        trickler = connect(server.base_url)
        sent = 0
        cut = False
        with httpx.Client(base_url=server.base_url, timeout=BOUND) as normal:
            assert normal.get("/healthz").status_code == 200
            deadline = time.monotonic() + BOUND
            while sent < len(REQUEST) and time.monotonic() < deadline:
                try:
                    trickler.sendall(REQUEST[sent : sent + 1])  # one byte at a time: headers never complete in time
                except (BrokenPipeError, ConnectionResetError):
                    cut = True
                    break
                sent += 1
                time.sleep(0.05)
                # A normal client keeps being answered meanwhile, on its kept-alive connection.
                if sent % 20 == 0:
                    assert normal.get("/healthz").status_code == 200
            # Idle longer than the first-request limit, yet kept alive: that limit is only for a first request.
            assert normal.get("/healthz").status_code == 200
        assert cut or closed_by_server(trickler), f"the trickling client sent {sent} bytes and was never cut"
        assert sent < len(REQUEST)
        assert closed_by_server(silent), "a connection that never sent a byte was kept open"
        silent.close()
        trickler.close()
        assert '"reason": "header_timeout"' in server.logs()


def test_a_worker_holds_at_most_its_connection_cap_the_rest_wait_in_the_backlog(tmp_path: Path) -> None:
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'cap.db'}",
        "XIANXIA_WORKER_CONNECTIONS": "2",
        "XIANXIA_FIRST_REQUEST_TIMEOUT": "60",
    }
    with hypercorn_server(env, tmp_path / "server.log", workers=1) as server:
        held = [connect(server.base_url), connect(server.base_url)]
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert b" 200 " in held[0].recv(4096)  # both held connections are accepted and served
        waiting = connect(server.base_url)  # the kernel completes the handshake; the worker does not accept
        waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        waiting.settimeout(1.0)
        with pytest.raises(TimeoutError):
            waiting.recv(4096)  # not answered while the worker is at its cap
        held[1].close()  # a slot frees: the waiting connection is accepted from the backlog and answered
        waiting.settimeout(BOUND)
        assert b" 200 " in waiting.recv(4096)
        for sock in (*held, waiting):
            sock.close()
