"""The supervisor drains for real: SIGTERM, SIGHUP and dead workers never cost an accepted request."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import BACKENDS, database_url
from tests.support.fakellm.process import fake_upstream
from tests.support.server import Server, hypercorn_server, worker_pids

pytestmark = pytest.mark.e2e

IN_FLIGHT = 40
UPSTREAM_LATENCY = 2.0


def llm_env(upstream_url: str, database: str) -> dict[str, str]:
    return {
        "XIANXIA_DATABASE_URL": database,
        "DEEPSEEK_API_KEY": "fake-key",
        "DEEPSEEK_BASE_URL": upstream_url,
        "XIANXIA_LLM_MODE": "async",
        "XIANXIA_LLM_OPEN": "1",
        "XIANXIA_RATE_LIMITS": "off",
        "LLM_MAX_RETRIES": "1",
        "XIANXIA_LOG_LEVEL": "INFO",
    }


@contextmanager
def llm_server(tmp_path: Path, backend: str, *, latency: float, workers: int = 2, **extra: str) -> Iterator[Server]:
    with (
        fake_upstream(tmp_path / "fakellm.log", latency=latency) as upstream_url,
        database_url(backend, tmp_path) as database,
        hypercorn_server({**llm_env(upstream_url, database), **extra}, tmp_path / "server.log", workers=workers) as srv,
    ):
        yield srv


async def create_players(base_url: str, count: int) -> list[dict[str, str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        bodies = [(await client.post("/api/players", json={"name": f"道友{i}"})).json() for i in range(count)]
    return [{"id": body["player"]["id"], "token": body["token"]} for body in bodies]


async def log_lengths(base_url: str, players: list[dict[str, str]]) -> dict[str, int]:
    """How many actions each player's log holds."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        lengths = {}
        for player in players:
            auth = {"Authorization": f"Bearer {player['token']}"}
            body = (await client.get(f"/api/players/{player['id']}/log", headers=auth)).json()
            lengths[player["id"]] = len(body["entries"])
        return lengths


async def act(
    client: httpx.AsyncClient, player: dict[str, str], text: str = "去坊市", headers: dict[str, str] | None = None
) -> httpx.Response | str:
    """The answer, or the name of the transport error that stood in for one."""
    try:
        return await client.post(
            f"/api/players/{player['id']}/act",
            json={"text": text},
            headers={"Authorization": f"Bearer {player['token']}", **(headers or {})},
        )
    except httpx.TransportError as exc:
        return type(exc).__name__


async def in_flight_then_signal(
    base_url: str, players: list[dict[str, str]], deliver: Any, after: float
) -> list[httpx.Response | str]:
    """Send one action per player at once, on fresh connections; call `deliver()` `after` seconds later."""
    limits = httpx.Limits(max_connections=len(players), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        sent = [asyncio.create_task(act(client, player)) for player in players]
        await asyncio.sleep(after)
        deliver()
        return await asyncio.gather(*sent)


def outcomes(answers: list[httpx.Response | str]) -> list[str]:
    return [a if isinstance(a, str) else f"{a.status_code}:{a.json().get('parser', '?')}" for a in answers]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_to_the_group_answers_every_in_flight_llm_action(tmp_path: Path, backend: str) -> None:
    """The held-out check: 40 actions waiting on a 2 s upstream, SIGTERM to the process group 50 ms later."""
    with llm_server(tmp_path, backend, latency=UPSTREAM_LATENCY) as server:
        players = asyncio.run(create_players(server.base_url, IN_FLIGHT))
        answers = asyncio.run(
            in_flight_then_signal(
                server.base_url, players, lambda: os.killpg(server.process.pid, signal.SIGTERM), after=0.05
            )
        )
        code = server.process.wait(timeout=60)
    assert outcomes(answers) == ["200:llm"] * IN_FLIGHT, server.logs()[-4000:]
    assert code == 0, server.logs()[-4000:]
    assert server.logs().count('"event": "app_stopped"') == 2  # both workers closed their services


def test_sigterm_to_the_master_reports_draining_and_finishes_the_request(tmp_path: Path) -> None:
    with llm_server(tmp_path, "sqlite", latency=UPSTREAM_LATENCY, XIANXIA_DRAIN_GRACE="30") as server:
        [player] = asyncio.run(create_players(server.base_url, 1))

        async def scenario() -> tuple[httpx.Response | str, list[int], dict[str, Any]]:
            async with (
                httpx.AsyncClient(base_url=server.base_url, timeout=60) as probe,
                httpx.AsyncClient(base_url=server.base_url, timeout=60) as player_client,
            ):
                assert (await probe.get("/readyz")).status_code == 200  # a keep-alive connection to one worker
                action = asyncio.create_task(act(player_client, player))
                await asyncio.sleep(0.3)
                server.process.send_signal(signal.SIGTERM)
                statuses: list[int] = []
                last: dict[str, Any] = {}
                for _ in range(3000):  # bounded: the worker starts draining within a few polls (a loaded machine: more)
                    reply = await probe.get("/readyz")
                    statuses.append(reply.status_code)
                    last = {"body": reply.json(), "connection": reply.headers.get("connection")}
                    if reply.status_code == 503:
                        break
                    await asyncio.sleep(0.01)
                return await action, statuses, last

        answer, statuses, last = asyncio.run(scenario())
        code = server.process.wait(timeout=60)
    assert not isinstance(answer, str) and answer.status_code == 200, answer
    assert statuses[-1] == 503 and last["body"]["checks"]["serving"] == "draining", (statuses, last)
    assert last["connection"] == "close"
    assert code == 0


def test_a_worker_killed_or_stopped_alone_is_replaced(tmp_path: Path) -> None:
    with llm_server(tmp_path, "sqlite", latency=0.5) as server:
        [player] = asyncio.run(create_players(server.base_url, 1))
        first = worker_pids(server.process.pid)
        assert len(first) == 2
        victim, survivor = sorted(first)

        async def stop_one_mid_request() -> httpx.Response | str:
            # The SIGTERMed worker drains: whichever worker holds this action answers it.
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                action = asyncio.create_task(act(client, player))
                await asyncio.sleep(0.2)
                os.kill(victim, signal.SIGTERM)
                return await action

        answer = asyncio.run(stop_one_mid_request())
        assert not isinstance(answer, str) and answer.status_code == 200, answer
        os.kill(survivor, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both replacements started and said they were ready
            now = worker_pids(server.process.pid)
            if len(now) == 2 and not now & first and server.logs().count('"event": "worker_ready"') == 4:
                break
            time.sleep(0.1)
        assert len(now) == 2 and not now & first, (first, now, server.logs()[-3000:])
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            assert client.get("/readyz").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0


def test_sighup_reloads_every_worker_under_load_without_a_failed_request(tmp_path: Path) -> None:
    """Kept-alive clients, as the web client is: each action with an Idempotency-Key, retried once with it when
    the connection closed unanswered. A request the old worker never read (sent on an idle connection as the
    drain closed it, the race every HTTP/1.1 server has: RFC 9112 §9.3.1) is retried; one it read and did not
    answer is a failure. Every action takes effect exactly once. (Fresh connections, where any close without
    an answer is a failure, are the other tests of this file and `make chaos`.)
    """
    with llm_server(tmp_path, "sqlite", latency=0.3) as server:
        players = asyncio.run(create_players(server.base_url, 8))
        before = worker_pids(server.process.pid)
        unanswered: list[str] = []  # request ids of attempts the connection closed on
        acknowledged: dict[str, int] = {}

        async def load_through_reload() -> tuple[list[str], set[int]]:
            failures: list[str] = []
            answered = 0
            reloaded = asyncio.Event()

            async def player_loop(client: httpx.AsyncClient, player: dict[str, str]) -> None:
                nonlocal answered
                texts = ("去坊市", "回主城")
                done = 0
                while not reloaded.is_set() or answered < 200:
                    key = f"{player['id']}-{done}"
                    request_id = uuid.uuid4().hex
                    answer = await act(
                        client, player, texts[done % 2], {"Idempotency-Key": key, "X-Request-ID": request_id}
                    )
                    if answer == "RemoteProtocolError":
                        unanswered.append(request_id)
                        answer = await act(client, player, texts[done % 2], {"Idempotency-Key": key})
                    if isinstance(answer, str) or answer.status_code != 200:
                        failures.append(answer if isinstance(answer, str) else f"{answer.status_code} {answer.text}")
                    else:
                        done += 1
                    answered += 1
                    if answered > 5000:
                        break
                acknowledged[player["id"]] = done

            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                senders = [asyncio.create_task(player_loop(client, player)) for player in players]
                await asyncio.sleep(0.5)
                server.process.send_signal(signal.SIGHUP)
                after: set[int] = set()
                for _ in range(600):  # bounded wait for the last old worker to be gone
                    after = worker_pids(server.process.pid)
                    if len(after) == 2 and not after & before:
                        break
                    await asyncio.sleep(0.1)
                reloaded.set()
                await asyncio.gather(*senders)
            return failures, after

        failures, after = asyncio.run(load_through_reload())
        logged = asyncio.run(log_lengths(server.base_url, players))
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=60)
    assert len(after) == 2 and not after & before, (before, after)
    assert failures == [], failures[:5]
    read_unanswered = [r for r in unanswered if f'"request_id": "{r}"' in server.logs()]
    assert read_unanswered == [], "requests a draining worker read and never answered"
    assert logged == acknowledged  # each acknowledged action applied once, retried or not
    assert code == 0
    assert '"event": "reload_finished"' in server.logs()
