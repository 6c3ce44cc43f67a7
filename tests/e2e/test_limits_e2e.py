"""Rate limits hold across hypercorn workers when they count in Redis: one player's flood meets 429, never a 5xx."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.server import hypercorn_server

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("XIANXIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ACTIONS = 200


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed (apt-get install redis-server; set XIANXIA_TEST_REDIS_URL): {exc}")


async def flood(base_url: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=50)) as client:
        created = (await client.post("/api/players", json={"name": "急性子"})).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        path = f"/api/players/{created['player']['id']}/act"
        return list(
            await asyncio.gather(*(client.post(path, json={"text": "看看"}, headers=headers) for _ in range(ACTIONS)))
        )


def test_one_players_flood_across_two_workers_meets_429_with_retry_after(tmp_path: Path) -> None:
    require_redis()
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}",
        "XIANXIA_LOG_LEVEL": "WARNING",
        "XIANXIA_REDIS_URL": REDIS_URL,
        "XIANXIA_REDIS_PREFIX": f"test-{secrets.token_hex(6)}",  # this run's counters only
    }
    with hypercorn_server(env, tmp_path / "server.log", workers=2, rate_limits=True) as server:
        answers = asyncio.run(flood(server.base_url))
        statuses = [answer.status_code for answer in answers]
        assert not [status for status in statuses if status >= 500], server.logs()[-3000:]
        limited = [answer for answer in answers if answer.status_code == 429]
        assert limited, statuses
        assert all(int(answer.headers["Retry-After"]) >= 1 for answer in limited)
        assert {answer.json()["error"]["code"] for answer in limited} == {"rate_limited"}
        accepted = statuses.count(200)
        # One count for both workers: the flood was cut, yet the player was never shut out.
        assert 0 < accepted < ACTIONS
        assert set(statuses) <= {200, 429}
