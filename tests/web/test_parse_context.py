"""`/api/llm/parse` takes the old client's context: scenes and realms by display name, `player_realm`."""

from __future__ import annotations

from quart.typing import TestClientProtocol


async def test_the_old_clients_display_names_are_understood(client: TestClientProtocol) -> None:
    response = await client.post(
        "/api/llm/parse", json={"utterance": "攻击守卫", "context": {"scene": "主城", "player_realm": "炼气期"}}
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    # The engine judged the law of the scene the name stands for: no fighting in the main city.
    assert body["intent"] == "attack" and body["allowed"] is False and body["law"] == "CITY_NO_COMBAT"


async def test_an_alias_and_an_id_give_the_same_answer(client: TestClientProtocol) -> None:
    by_alias = await client.post(
        "/api/llm/parse", json={"utterance": "打坐", "context": {"scene": "city", "realm": "练气"}}
    )
    by_id = await client.post(
        "/api/llm/parse", json={"utterance": "打坐", "context": {"scene": "zhucheng", "realm": "lianqi"}}
    )
    assert by_alias.status_code == by_id.status_code == 200
    assert await by_alias.get_json() == await by_id.get_json()


async def test_only_what_matches_nothing_is_refused(client: TestClientProtocol) -> None:
    for context, field in (
        ({"scene": "主城", "player_realm": "仙帝"}, "context.realm"),
        ({"scene": "天宫"}, "context.scene"),
        ({"target_realm": "金丹期", "realm": "半步化神"}, "context.realm"),
    ):
        response = await client.post("/api/llm/parse", json={"utterance": "看看", "context": context})
        assert response.status_code == 422
        assert field in (await response.get_json())["error"]["message"]


async def test_two_different_realms_under_both_names_are_refused(client: TestClientProtocol) -> None:
    response = await client.post(
        "/api/llm/parse", json={"utterance": "看看", "context": {"realm": "lianqi", "player_realm": "筑基"}}
    )
    assert response.status_code == 422
