"""App fixtures: a real app from `create_app` on a temporary SQLite file, driven by Quart's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from xianxia.config import Settings
from xianxia.web.app import create_app


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Production defaults (rate limits on) unless the test is marked `no_rate_limits` (it drives a load)."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'game.db'}",
        log_json=True,
        log_level="WARNING",
        rate_limits=request.node.get_closest_marker("no_rate_limits") is None,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    app = create_app(settings)
    async with app.test_app() as running:
        yield running.app  # type: ignore[attr-defined]


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()


class Player:
    """A created player with helpers that send its token."""

    def __init__(self, client: TestClientProtocol, body: dict[str, Any]) -> None:
        self.client = client
        self.id: str = body["player"]["id"]
        self.token: str = body["token"]
        self.created = body["player"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def act(self, text: str | None = None, **body: Any) -> dict[str, Any]:
        payload = {"text": text} if text is not None else body
        response = await self.client.post(f"/api/players/{self.id}/act", json=payload, headers=self.auth)
        assert response.status_code == 200, await response.get_data(as_text=True)
        result: dict[str, Any] = await response.get_json()
        return result

    async def state(self) -> dict[str, Any]:
        response = await self.client.get(f"/api/players/{self.id}", headers=self.auth)
        assert response.status_code == 200
        player: dict[str, Any] = (await response.get_json())["player"]
        return player


async def make_player(client: TestClientProtocol, name: str = "韩立") -> Player:
    response = await client.post("/api/players", json={"name": name})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return Player(client, await response.get_json())


@pytest.fixture
async def player(client: TestClientProtocol) -> Player:
    return await make_player(client)
