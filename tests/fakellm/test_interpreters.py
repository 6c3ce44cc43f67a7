"""Parse answers from the project's rules parser, and a broken interpreter never breaks the completion."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from tests.fakellm.conftest import chat_body, content_of
from tests.support.fakellm import FakeConfig, running_fake


def parse_body(utterance: str, scene: str) -> dict[str, Any]:
    prompt = json.dumps({"utterance": utterance, "scene": scene, "realm": "lianqi", "target_realm": None})
    return chat_body(prompt, response_format={"type": "json_object"})


async def test_default_interpreter_is_the_rules_parser_over_the_world() -> None:
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
