"""Rate limits at the edge: 429 with Retry-After in the error shape, per player, per address, off with one switch."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.web.conftest import make_player
from xianxia.config import Settings
from xianxia.web.app import create_app
from xianxia.web.ratelimit import Rule, memory_counter, redis_counter, retry_after

REDIS_URL = os.environ.get("XIANXIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_retry_after_rounds_up_and_is_never_zero() -> None:
    assert retry_after(reset_at=100.2, now=100.0) == 1
    assert retry_after(reset_at=100.0, now=100.0) == 1
    assert retry_after(reset_at=160.0, now=100.5) == 60


async def test_a_rule_counts_until_full_then_says_how_long_to_wait() -> None:
    now = 1_000.0
    counter = memory_counter(clock=lambda: now)
    rule = Rule.parse("demo", "3/hour")
    assert [await counter.take([(rule, "a")]) for _ in range(3)] == [0, 0, 0]
    wait = await counter.take([(rule, "a")])
    assert wait >= 1  # the window resets an hour after the first hit, seen from the injected clock
    assert await counter.take([(rule, "b")]) == 0  # another key has its own allowance


async def test_a_hit_over_any_window_of_several_counts_nothing() -> None:
    counter = memory_counter()
    small, large = Rule.parse("small", "5/hour"), Rule.parse("large", "2/hour")
    assert await counter.take([(small, "k"), (large, "k")], cost=2) == 0
    assert await counter.take([(small, "k"), (large, "k")], cost=1) > 0  # large is full
    assert await counter.take([(small, "k")], cost=3) == 0  # small lost nothing to the refused hit


@pytest.fixture
def limited(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'game.db'}",
        log_level="WARNING",
        admin_token="admin-secret",
        rate_limit_actions="3/hour",
        rate_limit_player_creation="2/hour",
        rate_limit_auth_failures="2/hour",
    )


@pytest.fixture
async def limited_client(limited: Settings) -> AsyncIterator[TestClientProtocol]:
    app: Quart = create_app(limited)
    async with app.test_app() as running:
        yield running.test_client()


async def assert_limited(response: Any, code: str = "rate_limited") -> None:
    assert response.status_code == 429, await response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.get_json())["error"]["code"] == code


async def test_actions_are_limited_per_player(limited_client: TestClientProtocol) -> None:
    first, second = await make_player(limited_client, "甲"), await make_player(limited_client, "乙")
    for _ in range(3):
        await first.act("看看")
    await assert_limited(
        await limited_client.post(f"/api/players/{first.id}/act", json={"text": "看看"}, headers=first.auth)
    )
    assert (await first.state())["version"] == 3  # the refused action changed nothing
    await second.act("看看")  # another player is not held back


async def test_player_creation_is_limited_per_address(limited_client: TestClientProtocol) -> None:
    for name in ("甲", "乙"):
        await make_player(limited_client, name)
    await assert_limited(await limited_client.post("/api/players", json={"name": "丙"}))


async def test_wrong_player_tokens_lock_the_address_out(limited_client: TestClientProtocol) -> None:
    player = await make_player(limited_client)
    wrong = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
    for _ in range(2):
        assert (await limited_client.get(f"/api/players/{player.id}", headers=wrong)).status_code == 403
    await assert_limited(await limited_client.get(f"/api/players/{player.id}", headers=wrong))
    # Right or wrong, no more guesses are judged from this address until the window frees.
    await assert_limited(await limited_client.get(f"/api/players/{player.id}", headers=player.auth))


async def test_wrong_admin_tokens_are_limited(limited_client: TestClientProtocol) -> None:
    wrong = {"Authorization": "Bearer guess"}
    for _ in range(2):
        assert (await limited_client.get("/api/admin/mode", headers=wrong)).status_code == 403
    await assert_limited(await limited_client.get("/api/admin/mode", headers=wrong))
    await assert_limited(await limited_client.get("/api/admin/mode", headers={"Authorization": "Bearer admin-secret"}))


async def test_one_switch_turns_every_limit_off(limited: Settings) -> None:
    app = create_app(limited.model_copy(update={"rate_limits": False}))
    async with app.test_app() as running:
        client = running.test_client()
        players = [await make_player(client, f"修士{i}") for i in range(4)]
        for _ in range(5):
            await players[0].act("看看")
        for _ in range(4):
            assert (await client.get("/api/admin/mode", headers={"Authorization": "Bearer x"})).status_code == 403


async def test_limits_held_in_redis_are_shared_by_every_counter_on_the_same_prefix() -> None:
    prefix = f"test-{secrets.token_hex(6)}"
    first, first_pool = redis_counter(REDIS_URL, prefix)
    second, second_pool = redis_counter(REDIS_URL, prefix)
    try:
        rule = Rule.parse("shared", "2/hour")
        try:
            assert await first.take([(rule, "p")]) == 0
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(
                f"Redis at {REDIS_URL} is needed (apt-get install redis-server; set XIANXIA_TEST_REDIS_URL): {exc}"
            )
        assert await second.take([(rule, "p")]) == 0
        assert await first.take([(rule, "p")]) > 0
    finally:
        await first_pool.aclose()
        await second_pool.aclose()
