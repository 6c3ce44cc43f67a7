"""deploy/nginx/xianxia.conf passes `nginx -t`, and a player plays through a real nginx in front of two instances."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.paths import DEPLOY
from tests.support.debian import require
from tests.support.server import free_port, hypercorn_server, stop

SITE = DEPLOY / "nginx" / "xianxia.conf"
UPSTREAM_SERVERS = re.compile(r"^(\s*)server app\d:8000 (.*);$", re.M)


def render(tmp_path: Path, upstreams: list[str], port: int) -> Path:
    """The site aimed at `upstreams`, listening on `port`, inside a main config whose files all live in tmp_path."""
    site = SITE.read_text()
    indent, options = UPSTREAM_SERVERS.search(site).groups()  # type: ignore[union-attr]
    servers = "".join(f"{indent}server {u} {options};\n" for u in upstreams)
    site = UPSTREAM_SERVERS.sub("", site, count=len(UPSTREAM_SERVERS.findall(site)))
    site = site.replace("upstream xianxia_app {\n", "upstream xianxia_app {\n" + servers, 1)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "xianxia.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""user root;
worker_processes 2;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/xianxia.conf;
}}
"""
    )
    return main


@pytest.fixture(scope="module")
def nginx() -> str:
    return require("nginx", "nginx")


def test_nginx_t_accepts_the_config(nginx: str, tmp_path: Path) -> None:
    main = render(tmp_path, ["127.0.0.1:18001", "127.0.0.1:18002"], free_port())
    result = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_the_config_keeps_what_operators_rely_on() -> None:
    site = SITE.read_text()
    for directive in (
        "keepalive 64;",
        "proxy_read_timeout 75s;",  # longer than LLM_TIMEOUT (30 s)
        "client_max_body_size 64k;",
        "client_header_timeout 10s;",
        "client_body_timeout 10s;",
        "limit_conn xianxia_per_ip 100;",
        "proxy_set_header X-Request-ID $xianxia_request_id;",
        'proxy_set_header Connection "";',
    ):
        assert directive in site, directive


@contextmanager
def nginx_in_front(nginx: str, tmp_path: Path, upstreams: list[str]) -> Iterator[str]:
    port = free_port()
    main = render(tmp_path, upstreams, port)
    log = tmp_path / "nginx.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [nginx, "-c", str(main), "-p", str(tmp_path)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {log.read_text()}{(tmp_path / 'error.log').read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(log.read_text())
            time.sleep(0.1)
        yield base
    finally:
        stop(process)


def act(client: httpx.Client, player: dict[str, Any], text: str, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/players/{player['id']}/act",
        json={"text": text},
        headers={"Authorization": f"Bearer {player['token']}", **headers},
    )


@pytest.mark.e2e
def test_a_player_plays_through_nginx_in_front_of_two_instances(nginx: str, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"  # one store shared by both instances (one machine)
    with ExitStack() as stack:
        instances = [
            stack.enter_context(hypercorn_server({"XIANXIA_DATABASE_URL": database}, tmp_path / f"app{i}.log"))
            for i in (1, 2)
        ]
        upstreams = [s.base_url.removeprefix("http://") for s in instances]
        base = stack.enter_context(nginx_in_front(nginx, tmp_path, upstreams))
        client = stack.enter_context(httpx.Client(base_url=base, timeout=30))

        created = client.post("/api/players", json={"name": "韩立"})
        assert created.status_code == 201, created.text
        player = {"id": created.json()["player"]["id"], "token": created.json()["token"]}
        refused = act(client, player, "攻击守卫").json()
        assert refused["intent"]["allowed"] is False and refused["intent"]["law"] == "CITY_NO_COMBAT"
        moved = act(client, player, "去坊市", **{"X-Request-ID": "trace-from-the-client"})
        assert moved.status_code == 200 and moved.json()["player"]["location"] == "fangshi"
        assert moved.headers["X-Request-ID"] == "trace-from-the-client"  # passed through both ways
        back = act(client, player, "回主城").json()
        assert back["player"]["location"] == "zhucheng"
        log = client.get(f"/api/players/{player['id']}/log", headers={"Authorization": f"Bearer {player['token']}"})
        assert log.status_code == 200 and len(log.json()["entries"]) == 3

        # nginx spreads requests over both instances (each answers /healthz with its own pid).
        pids = {client.get("/healthz").json()["pid"] for _ in range(10)}
        assert len(pids) == 2, pids
        served = {s.base_url: s.logs().count('"event": "request"') for s in instances}
        assert all(count > 0 for count in served.values()), served

        # A request id nginx minted reaches the app and comes back.
        minted = client.get("/healthz").headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", minted)

        # Limits and errors nginx raises itself are JSON too.
        too_big = client.post(
            "/api/players", content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}
        )
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
        hidden = client.get("/metrics")
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"

        # One instance goes away: the player goes on playing on the other.
        stop(instances[0].process)
        for text in ("去坊市", "回主城"):
            answer = act(client, player, text)
            assert answer.status_code == 200, answer.text
        assert (
            client.get(f"/api/players/{player['id']}", headers={"Authorization": f"Bearer {player['token']}"}).json()[
                "player"
            ]["location"]
            == "zhucheng"
        )
    access = (tmp_path / "xianxia.access.log").read_text().splitlines()
    assert any('"request_id":"trace-from-the-client"' in line for line in access)


@pytest.mark.e2e
@pytest.mark.parametrize("trusted", [True, False], ids=["nginx-trusted", "no-trusted-proxy"])
def test_player_creation_is_limited_per_forwarded_client_only_when_nginx_is_trusted(
    nginx: str, tmp_path: Path, trusted: bool
) -> None:
    """nginx appends the peer to X-Forwarded-For; the app reads it only with XIANXIA_TRUSTED_PROXIES naming nginx.

    The test's clients and nginx share 127.0.0.1, so a client's own X-Forwarded-For stands for the address a
    farther proxy would have written.
    """
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'game.db'}",
        "XIANXIA_RATE_LIMIT_PLAYER_CREATION": "1/hour",
        **({"XIANXIA_TRUSTED_PROXIES": "127.0.0.1"} if trusted else {}),
    }
    with ExitStack() as stack:
        app = stack.enter_context(hypercorn_server(env, tmp_path / "app.log", rate_limits=True))
        base = stack.enter_context(nginx_in_front(nginx, tmp_path, [app.base_url.removeprefix("http://")]))
        client = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        statuses = [
            client.post("/api/players", json={"name": "散修"}, headers={"X-Forwarded-For": address}).status_code
            for address in ("198.51.100.1", "198.51.100.2", "198.51.100.1")
        ]
    assert statuses == ([201, 201, 429] if trusted else [201, 429, 429])
