"""Bad input gets a clear JSON error, never a 500, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from quart.typing import TestClientProtocol

from tests.web.conftest import Player, make_player


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.content_type.startswith("application/json")
    body: dict[str, Any] = await response.get_json()
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]


async def test_malformed_json_is_400(player: Player) -> None:
    response = await player.client.post(
        f"/api/players/{player.id}/act",
        data="{not json",
        headers={**player.auth, "Content-Type": "application/json"},
    )
    error = await error_of(response, 400)
    assert "JSON" in error["message"]
    assert await player.state() == player.created


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 33}, "name"),
        ({"name": 42}, "name"),
        ({"name": "ok", "extra": 1}, "extra"),
        ({"name": "bad\x00name"}, "name"),
    ],
)
async def test_create_player_schema_errors_name_the_field(client: TestClientProtocol, body: Any, field: str) -> None:
    error = await error_of(await client.post("/api/players", json=body), 422)
    assert field in error["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "   "}, {"text": "去坊市", "intent": "move"}, {"intent": "fly"}, {"text": 5}, []],
)
async def test_act_schema_errors_are_422_and_change_nothing(player: Player, body: Any) -> None:
    response = await player.client.post(f"/api/players/{player.id}/act", json=body, headers=player.auth)
    await error_of(response, 422)
    assert await player.state() == player.created


async def test_text_over_the_limit_is_rejected_with_a_clear_message(player: Player) -> None:
    response = await player.client.post(f"/api/players/{player.id}/act", json={"text": "修" * 501}, headers=player.auth)
    error = await error_of(response, 422)
    assert "text" in error["message"] and "500" in error["message"]


async def test_body_over_the_limit_is_413(player: Player) -> None:
    response = await player.client.post(
        f"/api/players/{player.id}/act", json={"text": "x" * 70_000}, headers=player.auth
    )
    await error_of(response, 413)
    assert await player.state() == player.created


async def test_unknown_player_is_404(player: Player) -> None:
    response = await player.client.get("/api/players/nobody", headers=player.auth)
    assert (await error_of(response, 404))["code"] == "player_not_found"


async def test_missing_token_is_401(player: Player) -> None:
    await error_of(await player.client.get(f"/api/players/{player.id}"), 401)
    await error_of(await player.client.post(f"/api/players/{player.id}/act", json={"text": "打坐"}), 401)
    await error_of(await player.client.get(f"/api/players/{player.id}", headers={"Authorization": "Basic x"}), 401)


async def test_other_players_token_is_403_and_changes_nothing(client: TestClientProtocol, player: Player) -> None:
    other = await make_player(client, "厉飞雨")
    response = await client.post(f"/api/players/{player.id}/act", json={"text": "去坊市"}, headers=other.auth)
    await error_of(response, 403)
    await error_of(await client.get(f"/api/players/{player.id}/log", headers=other.auth), 403)
    await error_of(await client.get(f"/api/players/{player.id}", headers={"Authorization": "Bearer forged"}), 403)
    assert await player.state() == player.created


@pytest.mark.parametrize("key", ["has space", ""])
async def test_bad_idempotency_key_is_rejected(player: Player, key: str) -> None:
    headers = {**player.auth, "Idempotency-Key": key}  # sent empty is not the same as not sent
    response = await player.client.post(f"/api/players/{player.id}/act", json={"text": "打坐"}, headers=headers)
    assert "Idempotency-Key" in (await error_of(response, 422))["message"]
    assert await player.state() == player.created


@pytest.mark.parametrize("query", ["after=x", "after=-1", "limit=0", "limit=5000"])
async def test_bad_log_paging_is_422(player: Player, query: str) -> None:
    await error_of(await player.client.get(f"/api/players/{player.id}/log?{query}", headers=player.auth), 422)


async def test_unknown_route_and_method_are_json(client: TestClientProtocol) -> None:
    await error_of(await client.get("/api/nothing-here"), 404)
    await error_of(await client.delete("/api/players"), 405)


async def test_unknown_scene_is_404(client: TestClientProtocol) -> None:
    await error_of(await client.get("/api/world/scenes/mars"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"intent": "buy", "slots": {"item": "huiqi_dan", "quantity": 0}},
        {"intent": "buy", "slots": {"item": "huiqi_dan", "quantity": -5}},
        {"intent": "buy", "slots": {"item": "huiqi_dan", "quantity": 10**20}},
        {"intent": "buy", "slots": {"item": "huiqi_dan", "quantity": True}},
        {"intent": "move", "slots": {"target": "x" * 100}},
        {"intent": "move", "slots": {"target": ["fangshi"]}},
        {"intent": "move", "slots": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}},
    ],
)
async def test_out_of_range_slots_are_422_and_change_nothing(player: Player, body: Any) -> None:
    response = await player.client.post(f"/api/players/{player.id}/act", json=body, headers=player.auth)
    error = await error_of(response, 422)
    assert "slots" in error["message"]
    assert await player.state() == player.created


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b'{"name":"\xff"}', "UTF-8"), (b"[" * 20000 + b"]" * 20000, "nested"), (b'{"name": "a"', "JSON")],
)
async def test_undecodable_bodies_are_400(client: TestClientProtocol, raw: bytes, words: str) -> None:
    response = await client.post("/api/players", data=raw, headers={"Content-Type": "application/json"})
    error = await error_of(response, 400)
    assert words in error["message"]


async def test_a_body_that_is_not_json_is_415(player: Player) -> None:
    response = await player.client.post(
        f"/api/players/{player.id}/act", data='{"text": "打坐"}', headers={**player.auth, "Content-Type": "text/plain"}
    )
    error = await error_of(response, 415)
    assert "application/json" in error["message"]
    assert await player.state() == player.created


async def test_wrong_method_is_405_with_allow(client: TestClientProtocol) -> None:
    response = await client.delete("/api/players")
    await error_of(response, 405)
    assert "POST" in response.headers["Allow"]
