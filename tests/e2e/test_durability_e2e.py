"""An acknowledged action survives the server being killed (SIGKILL) or stopped (SIGTERM) mid-load."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.server import hypercorn_server

pytestmark = pytest.mark.e2e

PLAYERS = 4
SENDERS_PER_PLAYER = 3
ACKS_BEFORE_STOP = 120
MAX_ACTIONS = 2000  # a bound, should the server never go down


async def play_until_stopped(base_url: str, stop: signal.Signals, pid: int) -> dict[str, tuple[str, int]]:
    """Cultivate on several players at once; deliver `stop` to the server mid-load. Answers: player -> max version."""
    acknowledged: dict[str, int] = {}
    tokens: dict[str, str] = {}
    sent = 0
    enough = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for i in range(PLAYERS):
            body = (await client.post("/api/players", json={"name": f"韧{i}"})).json()
            tokens[body["player"]["id"]] = body["token"]

        async def sender(player_id: str) -> None:
            nonlocal sent
            while sent < MAX_ACTIONS:
                sent += 1
                try:
                    response = await client.post(
                        f"/api/players/{player_id}/act",
                        json={"text": "打坐修炼"},
                        headers={"Authorization": f"Bearer {tokens[player_id]}"},
                    )
                except httpx.TransportError:
                    return  # the server is gone: this action was never acknowledged
                if response.status_code != 200:
                    return
                version = response.json()["player"]["version"]
                acknowledged[player_id] = max(acknowledged.get(player_id, 0), version)
                if sum(acknowledged.values()) >= ACKS_BEFORE_STOP:
                    enough.set()

        senders = [asyncio.create_task(sender(p)) for p in tokens for _ in range(SENDERS_PER_PLAYER)]
        await asyncio.wait_for(enough.wait(), timeout=60)
        os.killpg(pid, stop)
        await asyncio.wait_for(asyncio.gather(*senders), timeout=60)
    return {player_id: (tokens[player_id], version) for player_id, version in acknowledged.items()}


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_no_acknowledged_action_is_lost(tmp_path: Path, stop: signal.Signals) -> None:
    env = {"XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'durable.db'}", "XIANXIA_LOG_LEVEL": "WARNING"}
    with hypercorn_server(env, tmp_path / "server.log", workers=2) as server:
        acknowledged = asyncio.run(play_until_stopped(server.base_url, stop, server.process.pid))
        server.process.wait(timeout=30)
    assert sum(version for _, version in acknowledged.values()) >= ACKS_BEFORE_STOP

    with (
        hypercorn_server(env, tmp_path / "server.log", workers=1) as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        for player_id, (token, version) in acknowledged.items():
            auth = {"Authorization": f"Bearer {token}"}
            stored = client.get(f"/api/players/{player_id}", headers=auth).json()["player"]
            assert stored["version"] >= version, (player_id, stored["version"], version)
            log = client.get(f"/api/players/{player_id}/log", headers=auth).json()["entries"]
            assert [entry["seq"] for entry in log] == list(range(1, len(log) + 1))
            assert log[-1]["version"] == stored["version"]
