"""Two real workers: a rollout share of 0.25 sends that quarter of players' LLM parses down the async path."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server
from xianxia.control.mode import player_bucket

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer rollout-admin"}
PLAYERS = 200


def parse_calls(metrics: str, path: str) -> float:
    found = re.findall(rf'^xianxia_llm_requests_total{{kind="parse",outcome="ok",path="{path}"}} (\S+)$', metrics, re.M)
    return sum(float(v) for v in found)


def test_a_quarter_share_splits_players_by_their_stable_hash(tmp_path: Path) -> None:
    with fake_upstream(tmp_path / "fakellm.log") as upstream_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'rollout.db'}",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream_url,
            "XIANXIA_LLM_MODE": "async",
            "XIANXIA_ADMIN_TOKEN": "rollout-admin",
            "XIANXIA_RATE_LIMITS": "off",
        }
        with (
            hypercorn_server(env, tmp_path / "server.log", workers=2) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            switched = client.put("/api/admin/mode", json={"mode": "async", "share": 0.25}, headers=ADMIN)
            assert switched.status_code == 200 and switched.json()["share"] == 0.25
            # The other worker follows within its poll (0.5 s); the admin GET reads the store itself.
            assert client.get("/api/admin/mode", headers=ADMIN).json()["share"] == 0.25
            before = httpx.get(f"{upstream_url}/_stats").json()["requests_total"]
            ids = []
            for i in range(PLAYERS):
                created = client.post("/api/players", json={"name": f"弟子{i}"}).json()
                ids.append(created["player"]["id"])
                answer = client.post(
                    f"/api/players/{created['player']['id']}/act",
                    json={"text": f"去坊市看看第{i}家铺子"},  # distinct: no cache or single flight merges them
                    headers={"Authorization": f"Bearer {created['token']}"},
                )
                assert answer.status_code == 200, answer.text
            metrics = client.get("/metrics", headers=ADMIN).text
            upstream_calls = httpx.get(f"{upstream_url}/_stats").json()["requests_total"] - before
    expected_async = sum(player_bucket(player) < 0.25 for player in ids)
    assert 30 <= expected_async <= 70  # about a quarter of 200
    on_async, on_sync = parse_calls(metrics, "async"), parse_calls(metrics, "sync")
    assert (on_async, on_sync) == (expected_async, PLAYERS - expected_async)
    assert upstream_calls == PLAYERS  # every parse reached the upstream once, whichever path took it
