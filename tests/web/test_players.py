"""Player routes: create, read, act, idempotency, log, concurrency."""

from __future__ import annotations

import asyncio

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.web.conftest import Player, make_player
from xianxia.game.replay import replay_player
from xianxia.web.services import EXTENSION_KEY

PLAYER_FIELDS = {
    "id",
    "name",
    "realm",
    "stage",
    "qi",
    "hp",
    "max_hp",
    "spirit_stones",
    "location",
    "inventory",
    "version",
}


async def test_create_player_returns_player_and_token(client: TestClientProtocol) -> None:
    response = await client.post("/api/players", json={"name": "  韩立 "})
    assert response.status_code == 201
    body = await response.get_json()
    assert set(body["player"]) >= PLAYER_FIELDS
    assert body["player"]["name"] == "韩立"
    assert body["player"]["location"] == "zhucheng"
    assert body["player"]["version"] == 0
    assert len(body["token"]) >= 32


async def test_get_player_with_own_token(player: Player) -> None:
    state = await player.state()
    assert state == player.created


async def test_free_text_move_changes_location_and_version(player: Player) -> None:
    answer = await player.act("去坊市")
    assert answer["intent"]["intent"] == "move"
    assert answer["intent"]["slots"] == {"target": "fangshi"}
    assert answer["intent"]["allowed"] is True
    assert answer["parser"] == "rules"
    assert answer["player"]["location"] == "fangshi"
    assert answer["player"]["version"] == 1
    assert answer["narration"]
    assert answer["suggestions"]
    assert (await player.state())["location"] == "fangshi"


async def test_attack_in_main_city_is_refused_by_law_and_changes_nothing(player: Player) -> None:
    answer = await player.act("攻击野狼")
    intent = answer["intent"]
    assert intent["allowed"] is False
    assert intent["law"] == "CITY_NO_COMBAT"
    assert "禁止" in intent["reason"]
    assert answer["player"] == player.created
    texts = [suggestion["text"] for suggestion in answer["suggestions"]]
    assert "去后山" in texts and "打坐修炼" in texts
    assert await player.state() == player.created


async def test_structured_intent_is_applied(player: Player) -> None:
    answer = await player.act(intent="move", slots={"target": "houshan"})
    assert answer["intent"]["allowed"] is True
    assert answer["player"]["location"] == "houshan"


async def test_unknown_text_answers_with_hints(player: Player) -> None:
    answer = await player.act("今天天气不错")
    assert answer["intent"]["intent"] == "unknown"
    assert answer["intent"]["allowed"] is False
    assert answer["suggestions"]
    assert answer["player"]["version"] == 0


async def test_idempotency_key_applies_once_and_replays_first_answer(player: Player) -> None:
    headers = {**player.auth, "Idempotency-Key": "move-1"}
    url = f"/api/players/{player.id}/act"
    first = await player.client.post(url, json={"text": "去坊市"}, headers=headers)
    second = await player.client.post(url, json={"text": "去坊市"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert await first.get_json() == await second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (await player.state())["version"] == 1


async def test_a_reused_idempotency_key_for_another_action_is_refused(player: Player) -> None:
    headers = {**player.auth, "Idempotency-Key": "k-1"}
    url = f"/api/players/{player.id}/act"
    assert (await player.client.post(url, json={"text": "打坐"}, headers=headers)).status_code == 200
    reused = await player.client.post(url, json={"text": "去坊市"}, headers=headers)
    assert reused.status_code == 422
    assert (await reused.get_json())["error"]["code"] == "idempotency_key_reused"
    state = await player.state()
    assert state["location"] == "zhucheng" and state["version"] == 1


async def test_concurrent_idempotent_retries_apply_once(player: Player) -> None:
    headers = {**player.auth, "Idempotency-Key": "cultivate-once"}
    url = f"/api/players/{player.id}/act"
    responses = await asyncio.gather(
        *(player.client.post(url, json={"text": "打坐修炼"}, headers=headers) for _ in range(10))
    )
    bodies = [await response.get_json() for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert (await player.state())["version"] == 1


@pytest.mark.no_rate_limits  # 25 at once is over the burst of 20
async def test_concurrent_actions_on_one_player_lose_no_update(player: Player) -> None:
    answers = await asyncio.gather(*(player.act("打坐") for _ in range(25)))
    assert all(answer["intent"]["allowed"] for answer in answers)
    versions = sorted(answer["player"]["version"] for answer in answers)
    assert versions == list(range(1, 26))
    assert (await player.state())["version"] == 25


async def test_log_lists_every_action_in_order(player: Player) -> None:
    await player.act("去坊市")
    await player.act("攻击野狼")
    await player.act("买一颗回春丹")
    response = await player.client.get(f"/api/players/{player.id}/log", headers=player.auth)
    assert response.status_code == 200
    body = await response.get_json()
    entries = body["entries"]
    assert [entry["seq"] for entry in entries] == [1, 2, 3]
    assert [entry["text"] for entry in entries] == ["去坊市", "攻击野狼", "买一颗回春丹"]
    assert entries[0]["intent"]["intent"] == "move"
    assert entries[1]["intent"]["allowed"] is False
    assert entries[2]["intent"]["slots"]["item"] == "huichun_dan"
    assert [entry["version"] for entry in entries] == [1, 1, 2]
    page = await player.client.get(f"/api/players/{player.id}/log?after=1&limit=1", headers=player.auth)
    paged = await page.get_json()
    assert [entry["seq"] for entry in paged["entries"]] == [2]
    assert paged["next_after"] == 2


async def test_replay_of_the_log_reproduces_the_stored_state(app: Quart, player: Player) -> None:
    for text in ["去后山", "探索", "攻击野狼", "探索", "打坐", "回主城", "去坊市", "买两颗回春丹", "看看背包"]:
        await player.act(text)
    found = app.extensions[EXTENSION_KEY]
    report = await replay_player(found.store, found.world, player.id)
    assert report.reproduced, report.differences
    assert report.actions == 9


async def test_players_are_isolated(client: TestClientProtocol) -> None:
    first = await make_player(client, "甲")
    second = await make_player(client, "乙")
    await first.act("去坊市")
    assert (await second.state())["location"] == "zhucheng"


async def test_the_player_document_carries_equipment_quests_and_the_fight(player: Player) -> None:
    created = player.created
    assert created["equipment"] == {} and created["quests"] == [] and created["fight"] is None
    quest = await player.act("和守卫说话")
    assert [q["id"] for q in quest["player"]["quests"]] == ["qingjiao"]
    assert quest["player"]["quests"][0]["needed"] == 3 and quest["player"]["quests"][0]["done"] is False
    await player.act("往西走")
    fight = await player.act("攻击野狼")
    assert fight["player"]["fight"]["monster"] == "yelang"
    assert {s["intent"] for s in fight["suggestions"]} >= {"attack", "flee"}
    log = await player.client.get(f"/api/players/{player.id}/log", headers=player.auth)
    assert all(entry["outcome"]["rules"] == 2 for entry in (await log.get_json())["entries"])
