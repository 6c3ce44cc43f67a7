"""Two real hypercorn workers and the fake DeepSeek upstream: the LLM path, its fallback, and the live mode switch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server
from xianxia.engine.intents import ParseContext
from xianxia.parsing.rules import RulesParser
from xianxia.world import load_world

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer e2e-admin"}


def worker_modes(base_url: str, *, attempts: int = 200) -> dict[int, str]:
    """The mode each worker reports, over fresh connections (the kernel spreads them over the workers)."""
    seen: dict[int, str] = {}
    for _ in range(attempts):
        with httpx.Client(base_url=base_url, timeout=5) as fresh:
            response = fresh.get("/healthz")
        seen[response.json()["pid"]] = response.headers["X-LLM-Mode"]
        if len(seen) >= 2:
            break
    return seen


def act(client: httpx.Client, player: dict[str, Any], text: str) -> dict[str, Any]:
    response = client.post(
        f"/api/players/{player['id']}/act", json={"text": text}, headers={"Authorization": f"Bearer {player['token']}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_llm_path_fallback_and_mode_switch_across_workers(tmp_path: Path) -> None:
    with fake_upstream(tmp_path / "fakellm.log") as upstream_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'llm.db'}",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream_url,
            "XIANXIA_LLM_MODE": "async",
            "XIANXIA_ADMIN_TOKEN": "e2e-admin",
            "LLM_PARSE_BUDGET": "5",
            "LLM_MAX_RETRIES": "1",
        }
        with (
            hypercorn_server(env, tmp_path / "server.log", workers=2) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            created = client.post("/api/players", json={"name": "厉飞雨"}).json()
            player = {"id": created["player"]["id"], "token": created["token"]}

            answer = act(client, player, "去坊市")
            assert answer["parser"] == "llm"
            assert answer["player"]["location"] == "fangshi"

            with httpx.Client(base_url=upstream_url) as control:
                assert control.put("/_control", json={"faults": {"server_error": 1.0}}).status_code == 200
                fallback = act(client, player, "回主城")
                assert fallback["parser"] == "rules"
                assert fallback["player"]["location"] == "zhucheng"
                control.post("/_reset")

            modes = worker_modes(server.base_url)
            assert len(modes) == 2 and set(modes.values()) == {"async"}, modes

            switched = client.put("/api/admin/mode", json={"mode": "off"}, headers=ADMIN)
            assert switched.status_code == 200 and switched.json()["mode"] == "off"
            started = time.monotonic()
            deadline = started + 2.0
            reported_off: dict[int, float] = {}
            while time.monotonic() < deadline and len(reported_off) < 2:
                for pid, mode in worker_modes(server.base_url, attempts=6).items():
                    if mode == "off":
                        reported_off.setdefault(pid, time.monotonic() - started)
            assert len(reported_off) == 2, f"workers reporting off within 2 s: {reported_off}"

            rules_only = act(client, player, "打坐修炼")
            assert rules_only["parser"] == "rules"
            chat = client.post("/api/llm/chat", json={"prompt": "你好"})
            assert chat.status_code == 503

            metrics = client.get("/metrics", headers=ADMIN).text
            assert "xianxia_parser_decisions_total" in metrics
            assert "xianxia_http_requests_total" in metrics


def test_the_llms_reading_not_the_rules_parsers_reaches_the_engine(tmp_path: Path) -> None:
    world = load_world()
    rules = RulesParser(world).interpret("去坊市", ParseContext(scene=world.settings.start_scene))
    assert (rules.intent, rules.slots) == ("move", {"target": "fangshi"})
    with fake_upstream(tmp_path / "fakellm.log", "--contrary") as upstream_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'contrary.db'}",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream_url,
            "XIANXIA_LLM_MODE": "async",
            "LLM_PARSE_BUDGET": "10",
        }
        with (
            hypercorn_server(env, tmp_path / "server.log") as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            created = client.post("/api/players", json={"name": "韩立"}).json()
            player = {"id": created["player"]["id"], "token": created["token"]}

            answer = act(client, player, "去坊市")

    elsewhere = answer["intent"]["slots"]["target"]
    assert answer["parser"] == "llm"
    assert answer["intent"]["intent"] == "move" and elsewhere != "fangshi"
    assert elsewhere in world.scenes[world.settings.start_scene].exits
    assert answer["player"]["location"] == elsewhere
