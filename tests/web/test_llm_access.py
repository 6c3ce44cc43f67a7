"""Who may spend upstream credit: a player's own token or the service token; anonymous only when opened on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from tests.web.conftest import make_player
from tests.web.llm_upstream import BASE_URL, Upstream
from xianxia.config import Settings
from xianxia.web.app import create_app

CHAT = {"prompt": "何为筑基"}


def llm_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'game.db'}",
        "log_level": "WARNING",
        "deepseek_api_key": "sk-test",
        "deepseek_base_url": BASE_URL,
        "llm_mode": "async",
    }
    return Settings(**(values | overrides))


async def running_client(settings: Settings, upstream: Upstream) -> AsyncIterator[TestClientProtocol]:
    app = create_app(settings, llm_transport=upstream.transport(), llm_sync_transport=upstream.sync_transport())
    async with app.test_app() as running:
        yield running.test_client()


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def closed(tmp_path: Path, upstream: Upstream) -> AsyncIterator[TestClientProtocol]:
    async for client in running_client(llm_settings(tmp_path, llm_player_calls_per_minute=3), upstream):
        yield client


async def test_anonymous_callers_are_turned_away_when_a_key_is_set(
    closed: TestClientProtocol, upstream: Upstream
) -> None:
    response = await closed.post("/api/llm/chat", json=CHAT)
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "unauthorized"
    assert upstream.requests == []  # nothing was spent


async def test_a_players_own_token_opens_the_llm_routes(closed: TestClientProtocol, upstream: Upstream) -> None:
    player = await make_player(closed)
    response = await closed.post("/api/llm/chat", json=CHAT, headers={**player.auth, "X-Player-ID": player.id})
    assert response.status_code == 200, await response.get_data(as_text=True)
    other = await make_player(closed, "厉飞雨")
    wrong = await closed.post("/api/llm/chat", json=CHAT, headers={**player.auth, "X-Player-ID": other.id})
    assert wrong.status_code == 403
    assert len(upstream.requests) == 1


async def test_a_players_budget_is_spent_per_upstream_call(closed: TestClientProtocol, upstream: Upstream) -> None:
    player = await make_player(closed)
    headers = {**player.auth, "X-Player-ID": player.id}
    batch = await closed.post("/api/llm/batch", json={"prompts": ["甲", "乙"]}, headers=headers)
    assert batch.status_code == 200
    assert (await closed.post("/api/llm/chat", json=CHAT, headers=headers)).status_code == 200
    spent = await closed.post("/api/llm/chat", json=CHAT, headers=headers)
    assert spent.status_code == 429 and int(spent.headers["Retry-After"]) >= 1
    assert (await spent.get_json())["error"]["code"] == "llm_budget_exhausted"
    assert len(upstream.requests) == 3


async def test_the_global_budget_holds_for_the_service_token(tmp_path: Path, upstream: Upstream) -> None:
    settings = llm_settings(tmp_path, llm_token="svc", llm_global_calls_per_minute=2)
    async for client in running_client(settings, upstream):
        service = {"Authorization": "Bearer svc"}
        statuses = [(await client.post("/api/llm/chat", json=CHAT, headers=service)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


async def test_open_on_purpose_lets_anonymous_callers_in(tmp_path: Path, upstream: Upstream) -> None:
    async for client in running_client(llm_settings(tmp_path, llm_open=True), upstream):
        assert (await client.post("/api/llm/chat", json=CHAT)).status_code == 200


async def test_budgets_are_off_with_the_rate_limits(tmp_path: Path, upstream: Upstream) -> None:
    settings = llm_settings(tmp_path, llm_open=True, rate_limits=False, llm_global_calls_per_minute=1)
    async for client in running_client(settings, upstream):
        assert [(await client.post("/api/llm/chat", json=CHAT)).status_code for _ in range(3)] == [200, 200, 200]


async def test_without_a_key_the_rules_parser_stays_open(client: TestClientProtocol) -> None:
    response = await client.post("/api/llm/parse", json={"utterance": "打坐"})
    assert response.status_code == 200
