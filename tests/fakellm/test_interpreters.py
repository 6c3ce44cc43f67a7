"""Parse answers from the fake's own reading of the world, the contrary reading on demand, and failures contained."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from tests.fakellm.conftest import chat_body, content_of
from tests.support.fakellm import FakeConfig, running_fake
from tests.support.fakellm.interpreters import ContraryInterpreter, KeywordInterpreter
from xianxia.world import load_world

WORLD = load_world()


def parse_body(utterance: str, scene: str) -> dict[str, Any]:
    prompt = json.dumps({"utterance": utterance, "scene": scene, "realm": "lianqi", "target_realm": None})
    return chat_body(prompt, response_format={"type": "json_object"})


async def test_default_interpreter_reads_the_world_data() -> None:
    async with (
        running_fake(FakeConfig(port=0)) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": "Bearer k"}) as client,
    ):
        move = await client.post("/chat/completions", json=parse_body("去坊市", "zhucheng"))
        buy = await client.post("/chat/completions", json=parse_body("买两颗聚气丹", "fangshi"))

    assert json.loads(content_of(move)) == {
        "intent": "move",
        "slots": {"target": "fangshi"},
        "allowed": True,
        "reason": "",
    }
    assert json.loads(content_of(buy))["slots"] == {"item": "juqi_dan", "quantity": 2}


@pytest.mark.parametrize(
    ("text", "scene", "intent", "slots"),
    [
        ("看看", None, "look", {}),
        ("打坐修炼", "zhucheng", "cultivate", {}),
        ("去坊市买回春丹", "zhucheng", "move", {"target": "fangshi"}),
        ("attack the wolf", "houshan", "attack", {"target": "yelang"}),
        ("和掌柜说话", "fangshi", "talk", {"target": "zhanggui"}),
        ("回春丹", "fangshi", "buy", {"item": "huichun_dan", "quantity": 1}),
        ("买三颗筑基丹", "fangshi", "buy", {"item": "zhuji_dan", "quantity": 3}),
        ("今天天气怎么样", None, "unknown", {}),
    ],
)
def test_keyword_interpreter_spots_a_verb_and_an_entity(
    text: str, scene: str | None, intent: str, slots: dict[str, Any]
) -> None:
    answer = KeywordInterpreter(WORLD)(text, scene)

    assert (answer["intent"], answer["slots"]) == (intent, slots)


def test_contrary_reading_moves_elsewhere_and_turns_the_rest_into_a_look() -> None:
    contrary = ContraryInterpreter(WORLD, KeywordInterpreter(WORLD))

    moved = contrary("去坊市", "zhucheng")
    assert moved["intent"] == "move"
    assert moved["slots"]["target"] in WORLD.scenes["zhucheng"].exits
    assert moved["slots"]["target"] != "fangshi"
    assert contrary("打坐修炼", "zhucheng")["intent"] == "look"
    assert contrary("看看", "zhucheng")["intent"] == "cultivate"


async def test_control_switches_the_reading_to_contrary_and_reset_restores_it() -> None:
    async with (
        running_fake(FakeConfig(port=0)) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": "Bearer k"}) as client,
    ):
        assert (await client.get("/_interpreter")).json()["reading"] == "faithful"
        switched = await client.put("/_interpreter", json={"reading": "contrary"})
        contrary = await client.post("/chat/completions", json=parse_body("去坊市", "zhucheng"))
        refused = await client.put("/_interpreter", json={"reading": "sarcastic"})
        still = (await client.get("/_interpreter")).json()["reading"]
        await client.post("/_reset")
        faithful = await client.post("/chat/completions", json=parse_body("去坊市", "zhucheng"))

    assert switched.status_code == 200 and switched.json()["reading"] == "contrary"
    assert json.loads(content_of(contrary))["slots"]["target"] != "fangshi"
    assert refused.status_code == 400 and still == "contrary"
    assert json.loads(content_of(faithful))["slots"] == {"target": "fangshi"}


async def test_a_failing_interpreter_answers_unknown_instead_of_an_error() -> None:
    def broken(utterance: str, scene: str | None) -> Mapping[str, Any]:
        raise KeyError(scene)

    async with (
        running_fake(FakeConfig(port=0), broken) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": "Bearer k"}) as client,
    ):
        response = await client.post("/chat/completions", json=parse_body("去坊市", "nowhere"))

    assert response.status_code == 200
    answer = json.loads(content_of(response))
    assert answer["intent"] == "unknown" and "KeyError" in answer["reason"]
