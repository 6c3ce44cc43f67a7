"""No integer or text reaching a store can overflow it: 422 JSON on both backends, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol

from tests.store.conftest import postgres_schema
from tests.web.conftest import make_player
from xianxia.config import Settings
from xianxia.web.app import create_app


@pytest.fixture(params=["sqlite", "postgres"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestClientProtocol]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'game.db'}"
        async for client in _client(url):
            yield client
        return
    async with postgres_schema() as backend:
        async for client in _client(backend.url):
            yield client


async def _client(url: str) -> AsyncIterator[TestClientProtocol]:
    app = create_app(Settings(database_url=url, log_json=True, log_level="WARNING"))
    async with app.test_app() as running:
        yield running.app.test_client()  # type: ignore[attr-defined]


async def test_log_after_beyond_64_bits_is_422_json(client: TestClientProtocol) -> None:
    player = await make_player(client)

    response = await client.get(f"/api/players/{player.id}/log?after=9223372036854775808", headers=player.auth)

    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "invalid_request"
    largest = await client.get(f"/api/players/{player.id}/log?after=9223372036854775807", headers=player.auth)
    assert largest.status_code == 200
    assert (await largest.get_json())["entries"] == []


async def test_a_nul_in_a_player_id_is_422_json(client: TestClientProtocol) -> None:
    player = await make_player(client)

    response = await client.get("/api/players/p%001", headers=player.auth)

    assert response.status_code == 422
    assert "NUL" in (await response.get_json())["error"]["message"]


async def test_action_text_with_a_nul_is_422_and_changes_nothing(client: TestClientProtocol) -> None:
    player = await make_player(client)

    response = await client.post(f"/api/players/{player.id}/act", json={"text": "打坐\x00"}, headers=player.auth)

    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "invalid_request"
    assert (await player.state())["version"] == player.created["version"]
    log = await client.get(f"/api/players/{player.id}/log", headers=player.auth)
    assert (await log.get_json())["entries"] == []
