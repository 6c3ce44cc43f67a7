"""Happy-path answers: OpenAI-shaped completions, intent JSON for parse prompts, stable chat lines."""

from __future__ import annotations

import json

import httpx

from tests.fakellm.conftest import StandInInterpreter, chat_body, content_of


def parse_body(utterance: str, scene: str | None = "zhucheng") -> dict[str, object]:
    prompt = {"utterance": utterance, "scene": scene, "realm": "lianqi", "target_realm": None}
    return chat_body(json.dumps(prompt, ensure_ascii=False), response_format={"type": "json_object"}, max_tokens=200)


async def test_chat_answer_has_openai_completion_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=chat_body("师父，弟子想下山历练"))

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "deepseek-chat"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


async def test_chat_answer_is_chinese_deterministic_and_echoes_the_player(client: httpx.AsyncClient) -> None:
    first = content_of(await client.post("/chat/completions", json=chat_body("师父，弟子想下山历练")))
    again = content_of(await client.post("/v1/chat/completions", json=chat_body("师父，弟子想下山历练")))

    assert first == again
    assert "师父，弟子想下山历练" in first


async def test_chat_answer_speaks_in_the_system_persona(client: httpx.AsyncClient) -> None:
    body = chat_body("掌门好")
    body["messages"].insert(0, {"role": "system", "content": "你是青云宗掌门，元婴修士，仙风道骨。"})

    content = content_of(await client.post("/chat/completions", json=body))

    assert content.startswith("（青云宗掌门）")


async def test_parse_prompt_answers_the_interpreters_intent_as_json(
    client: httpx.AsyncClient, interpreter: StandInInterpreter
) -> None:
    response = await client.post("/chat/completions", json=parse_body("去坊市", scene="zhucheng"))

    assert response.status_code == 200
    assert json.loads(content_of(response)) == {
        "intent": "move",
        "slots": {"target": "坊市"},
        "allowed": True,
        "reason": "",
    }
    assert interpreter.calls == [("去坊市", "zhucheng")]


async def test_parse_prompt_without_json_payload_answers_unknown(client: httpx.AsyncClient) -> None:
    body = chat_body("attack the wolf", response_format={"type": "json_object"})

    answer = json.loads(content_of(await client.post("/chat/completions", json=body)))

    assert answer["intent"] == "unknown"
    assert answer["slots"] == {} and answer["allowed"] is True and answer["reason"]


async def test_models_lists_deepseek_models(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")

    assert {model["id"] for model in response.json()["data"]} >= {"deepseek-chat"}


async def test_malformed_request_is_a_400_with_an_openai_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json={"model": "deepseek-chat", "messages": []})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "messages" in response.json()["error"]["message"]


async def test_unknown_path_is_a_404_with_an_openai_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/engines", json={})

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
