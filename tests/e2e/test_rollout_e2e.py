"""The held-out check of issue 15 on two real workers: a share of 0.25 sends a quarter of 400 players' LLM parses
down the async path (counted over both workers in /metrics and at the fake upstream); then the upstream fails and
the mode drops to `off` by itself within the rollback window, with an audit entry carrying its figures."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import httpx
import pytest

from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server
from xianxia.control.mode import player_bucket

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer rollout-admin"}
PLAYERS = 400
WINDOW = 8.0  # seconds of the rollback window here (60 by default)


def parse_calls(metrics: str, path: str) -> float:
    found = re.findall(rf'^xianxia_llm_requests_total{{kind="parse",outcome="ok",path="{path}"}} (\S+)$', metrics, re.M)
    return sum(float(v) for v in found)


def sample(metrics: str, name: str, labels: str = "") -> float:
    found = re.findall(rf"^{name}{re.escape(labels)} (\S+)$", metrics, re.M)
    return sum(float(v) for v in found)


class Players:
    """Players created through the API, each acting with texts no one typed before (no cache, no single flight)."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._texts = count()
        self.tokens: dict[str, str] = {}

    def create(self, i: int) -> str:
        created = self._client.post("/api/players", json={"name": f"弟子{i}"})
        assert created.status_code == 201, created.text
        player_id: str = created.json()["player"]["id"]
        self.tokens[player_id] = created.json()["token"]
        return player_id

    def act(self, player_id: str) -> str:
        answer = self._client.post(
            f"/api/players/{player_id}/act",
            json={"text": f"去坊市看看第{next(self._texts)}家铺子"},
            headers={"Authorization": f"Bearer {self.tokens[player_id]}"},
        )
        assert answer.status_code == 200, answer.text  # the game plays on, on the rules parser if need be
        parser: str = answer.json()["parser"]
        return parser

    def first_action(self, i: int) -> str:
        player_id = self.create(i)
        self.act(player_id)
        return player_id


def test_a_quarter_share_then_an_automatic_rollback_when_the_upstream_fails(tmp_path: Path) -> None:
    with fake_upstream(tmp_path / "fakellm.log", latency=0.02) as upstream_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'rollout.db'}",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream_url,
            "XIANXIA_LLM_MODE": "async",
            "XIANXIA_ADMIN_TOKEN": "rollout-admin",
            "XIANXIA_RATE_LIMITS": "off",
            "XIANXIA_ROLLBACK_WINDOW_SECONDS": str(WINDOW),
            "XIANXIA_ROLLBACK_INTERVAL_SECONDS": "0.5",
        }
        with (
            hypercorn_server(env, tmp_path / "server.log", workers=2) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
            ThreadPoolExecutor(max_workers=16) as pool,
        ):
            switched = client.put("/api/admin/mode", json={"mode": "async", "share": 0.25}, headers=ADMIN)
            assert switched.status_code == 200 and switched.json()["share"] == 0.25
            # The admin GET reads the store itself; each worker follows within its poll (0.5 s).
            assert client.get("/api/admin/mode", headers=ADMIN).json()["share"] == 0.25
            following: set[int] = set()
            for _ in range(200):  # a bounded wait until both workers have answered with the new share
                probe = httpx.get(f"{server.base_url}/readyz").json()  # a new connection: either worker answers
                if probe["checks"]["llm"]["share"] == 0.25:
                    following.add(probe["pid"])
                if len(following) == 2:
                    break
            assert len(following) == 2, following
            before = httpx.get(f"{upstream_url}/_stats").json()["requests_total"]
            players = Players(client)
            t0 = time.monotonic()
            ids = list(pool.map(players.first_action, range(PLAYERS)))
            print(f"\n400 players: {time.monotonic() - t0:.1f} s")
            metrics = client.get("/metrics", headers=ADMIN).text
            upstream_calls = httpx.get(f"{upstream_url}/_stats").json()["requests_total"] - before

            # The upstream now fails every call; players keep playing until the watch switches the LLM off.
            failing = httpx.put(f"{upstream_url}/_control", json={"faults": {"server_error": 1.0}})
            assert failing.status_code == 200, failing.text
            failed_at, failed_at_wall = time.monotonic(), time.time()
            mode: dict[str, object] = {}
            rounds = 0
            while time.monotonic() - failed_at < 2 * WINDOW:  # a bounded poll (a round may outlast the window)
                rounds += 1
                list(pool.map(players.act, ids[:32]))
                mode = client.get("/api/admin/mode", headers=ADMIN).json()
                if mode["mode"] == "off":
                    break
            took = time.monotonic() - failed_at
            audit = client.get("/api/admin/audit", headers=ADMIN).json()["entries"]
            after = ""
            adopted_by = time.monotonic() + 5.0  # both workers adopt the stored `off` within their poll (0.5 s)
            while time.monotonic() < adopted_by and sample(after, "xianxia_llm_rolled_back") < 2:
                after = client.get("/metrics", headers=ADMIN).text
            ready = [client.get("/readyz") for _ in range(4)]
            assert players.act(ids[0]) == "rules"
    tripped_after = audit[0]["at"] - failed_at_wall
    print(f"\nrollback: stored {tripped_after:.1f} s after the upstream failed, seen {took:.1f} s ({rounds} rounds)")

    expected_async = sum(player_bucket(player) < 0.25 for player in ids)
    assert 70 <= expected_async <= 130  # about a quarter of 400
    on_async, on_sync = parse_calls(metrics, "async"), parse_calls(metrics, "sync")
    assert (on_async, on_sync) == (expected_async, PLAYERS - expected_async)
    assert upstream_calls == PLAYERS  # every parse reached the upstream once, whichever path took it

    assert mode["mode"] == "off" and mode["changed_by"] == "rollback", mode
    assert tripped_after <= WINDOW  # by itself, within the window
    rollback, share = audit[0], audit[1]
    assert (share["cause"], share["to"]) == ("manual", {"mode": "async", "share": 0.25})
    assert (rollback["changed_by"], rollback["cause"]) == ("rollback", "error_rate")
    assert rollback["from"] == {"mode": "async", "share": 0.25} and rollback["to"]["mode"] == "off"
    figures = rollback["figures"]
    assert figures["calls"] >= 20 and figures["error_rate"] > 0.10 and figures["window_seconds"] == WINDOW
    assert figures["errors"] / figures["calls"] == pytest.approx(figures["error_rate"], abs=1e-4)
    assert figures["workers"] == 2  # summed over both workers
    assert [entry["cause"] for entry in audit].count("error_rate") == 1  # once, though both workers judge

    for answer in ready:  # still ready: the game plays on the rules parser
        assert answer.status_code == 200
        llm = answer.json()["checks"]["llm"]
        assert llm["mode"] == "off" and llm["rollback"]["rolled_back"] is True
    assert sample(after, "xianxia_llm_rollbacks_total", '{reason="error_rate"}') == 1
    assert sample(after, "xianxia_llm_rolled_back") == 2  # both workers are off by the rollback
