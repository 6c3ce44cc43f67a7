"""The OpenAPI document and the runtime agree: each limit the document states is the one enforced (sent at the
limit and one past it), bodies are required, blank and control-character rules match, error answers documented."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from tests.web.llm_upstream import BASE_URL, Upstream
from xianxia.config import Settings
from xianxia.store.parameters import MAX_INTEGER
from xianxia.web.app import create_app
from xianxia.web.contract import LIMITS
from xianxia.web.errors import encodable, encodable_fields

ADMIN = {"Authorization": "Bearer contract-admin"}
# Small, unusual numbers: a document that kept a default or a hard-coded ceiling would show it.
CONFIGURED = {"max_text_chars": 37, "llm_chat_max_chars": 41, "llm_batch_max": 3}


class Api:
    """An app on an LLM stand-in, its OpenAPI document, and one player."""

    def __init__(self, client: TestClientProtocol, document: dict[str, Any], player: dict[str, Any]) -> None:
        self.client = client
        self.document = document
        self.player_id: str = player["player"]["id"]
        self.auth = {"Authorization": f"Bearer {player['token']}"}

    def body_schema(self, path: str, method: str = "post") -> dict[str, Any]:
        schema: dict[str, Any] = self.document["paths"][path][method]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        return schema

    def component(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.document["components"]["schemas"][name]
        return found


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    upstream = Upstream()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'contract.db'}",
        log_level="WARNING",
        deepseek_api_key="sk-test",
        deepseek_base_url=BASE_URL,
        admin_token="contract-admin",
        llm_open=True,
        rate_limits=False,
        **CONFIGURED,  # type: ignore[arg-type]
    )
    app = create_app(settings, llm_transport=upstream.transport(), llm_sync_transport=upstream.sync_transport())
    async with app.test_app() as running:
        client = running.test_client()
        document = await (await client.get("/openapi.json")).get_json()
        player = await (await client.post("/api/players", json={"name": "契约"})).get_json()
        yield Api(client, document, player)


def option(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an optional field."""
    return next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)


def slot_value(api: Api) -> dict[str, Any]:
    """The schema of an action slot's value."""
    slots = api.body_schema("/api/players/{player_id}/act")["properties"]["slots"]
    assert slots["additionalProperties"] is False  # a slot name off the pattern is refused
    value: dict[str, Any] = next(iter(slots["patternProperties"].values()))
    return value


def log_parameter(api: Api, name: str) -> dict[str, Any]:
    """The schema of one query parameter of the action log."""
    parameters = api.document["paths"]["/api/players/{player_id}/log"]["get"]["parameters"]
    schema: dict[str, Any] = next(p for p in parameters if p["name"] == name)["schema"]
    return schema


# (what, where the document states the limit, the request at a given size: (method, path, json, query, auth))
Request = tuple[str, str, Any, dict[str, Any] | None, bool]
CASES: list[tuple[str, Callable[[Api], int], Callable[[Api, int], Request]]] = [
    (
        "action text",
        lambda a: option(a.body_schema("/api/players/{player_id}/act")["properties"]["text"])["maxLength"],
        lambda a, n: ("POST", f"/api/players/{a.player_id}/act", {"text": "看" * n}, None, True),
    ),
    (
        "parse utterance",
        lambda a: a.body_schema("/api/llm/parse")["properties"]["utterance"]["maxLength"],
        lambda a, n: ("POST", "/api/llm/parse", {"utterance": "看" * n}, None, False),
    ),
    (
        "chat prompt",
        lambda a: a.body_schema("/api/llm/chat")["properties"]["prompt"]["maxLength"],
        lambda a, n: ("POST", "/api/llm/chat", {"prompt": "道" * n}, None, False),
    ),
    (
        "chat/sync prompt",
        lambda a: a.body_schema("/api/llm/chat/sync")["properties"]["prompt"]["maxLength"],
        lambda a, n: ("POST", "/api/llm/chat/sync", {"prompt": "道" * n}, None, False),
    ),
    (
        "batch size",
        lambda a: a.body_schema("/api/llm/batch")["properties"]["prompts"]["maxItems"],
        lambda a, n: ("POST", "/api/llm/batch", {"prompts": ["道"] * n}, None, False),
    ),
    (
        "batch prompt length",
        lambda a: a.body_schema("/api/llm/batch")["properties"]["prompts"]["items"]["maxLength"],
        lambda a, n: ("POST", "/api/llm/batch", {"prompts": ["道", "法" * n]}, None, False),
    ),
    (
        "player name",
        lambda a: a.body_schema("/api/players")["properties"]["name"]["maxLength"],
        lambda a, n: ("POST", "/api/players", {"name": "韩" * n}, None, False),
    ),
    (
        "slot quantity",
        lambda a: slot_value(a)["anyOf"][1]["maximum"],
        lambda a, n: (
            "POST",
            f"/api/players/{a.player_id}/act",
            {"intent": "buy", "slots": {"item": "huichun_dan", "quantity": n}},
            None,
            True,
        ),
    ),
    (
        "slot count",
        lambda a: a.body_schema("/api/players/{player_id}/act")["properties"]["slots"]["maxProperties"],
        lambda a, n: (
            "POST",
            f"/api/players/{a.player_id}/act",
            {"intent": "look", "slots": {f"s{i}": "x" for i in range(n)}},
            None,
            True,
        ),
    ),
    (
        "log page size",
        lambda a: next(
            p for p in a.document["paths"]["/api/players/{player_id}/log"]["get"]["parameters"] if p["name"] == "limit"
        )["schema"]["maximum"],
        lambda a, n: ("GET", f"/api/players/{a.player_id}/log", None, {"limit": n}, True),
    ),
    (
        "log position",
        lambda a: next(
            p for p in a.document["paths"]["/api/players/{player_id}/log"]["get"]["parameters"] if p["name"] == "after"
        )["schema"]["maximum"],
        lambda a, n: ("GET", f"/api/players/{a.player_id}/log", None, {"after": n}, True),
    ),
    (
        "mode reason",
        lambda a: a.body_schema("/api/admin/mode", "put")["properties"]["reason"]["maxLength"],
        lambda a, n: ("PUT", "/api/admin/mode", {"mode": "async", "reason": "因" * n}, None, False),
    ),
]


async def send(api: Api, request: Request) -> int:
    method, path, body, query, as_player = request
    headers = api.auth if as_player else ADMIN if path.startswith("/api/admin") else {}
    response = await api.client.open(path, method=method, json=body, query_string=query, headers=headers)
    return response.status_code


@pytest.mark.parametrize(("what", "documented", "request_of"), CASES, ids=[case[0] for case in CASES])
async def test_the_documented_limit_is_the_enforced_one(
    api: Api, what: str, documented: Callable[[Api], int], request_of: Callable[[Api, int], Request]
) -> None:
    limit = documented(api)
    assert await send(api, request_of(api, limit)) in (200, 201, 202), f"{what}: {limit} is documented as allowed"
    assert await send(api, request_of(api, limit + 1)) == 422, f"{what}: {limit + 1} is documented as too much"


def test_every_configured_limit_has_a_case() -> None:
    assert {limit.setting for limit in LIMITS} == set(CONFIGURED)


async def test_the_document_states_the_configured_numbers(api: Api) -> None:
    assert option(api.body_schema("/api/players/{player_id}/act")["properties"]["text"])["maxLength"] == 37
    assert api.body_schema("/api/llm/chat")["properties"]["prompt"]["maxLength"] == 41
    assert api.body_schema("/api/llm/batch")["properties"]["prompts"]["maxItems"] == 3
    after = next(
        p for p in api.document["paths"]["/api/players/{player_id}/log"]["get"]["parameters"] if p["name"] == "after"
    )
    assert after["schema"]["maximum"] == MAX_INTEGER


@pytest.mark.parametrize(
    "text", ["", " ", "\u3000\t\n", "\x1c", "a", " 道 ", "去坊市\n", "看\x00", "看\x7f", "看\x85", "看\u200b", "\t看"]
)
async def test_blank_and_control_character_rules_match_the_document(api: Api, text: str) -> None:
    """Each string is valid by the document's pattern exactly when the runtime accepts it."""
    for path, field, wrap in (
        ("/api/llm/chat", "prompt", lambda t: {"prompt": t}),
        ("/api/llm/parse", "utterance", lambda t: {"utterance": t}),
        ("/api/llm/batch", "prompts", lambda t: {"prompts": [t]}),
        ("/api/players/{player_id}/act", "text", lambda t: {"text": t}),
    ):
        schema = api.body_schema(path)["properties"][field]
        schema = option(schema.get("items", schema))
        valid = len(text) >= schema["minLength"] and re.search(schema["pattern"], text) is not None
        real_path = path.replace("{player_id}", api.player_id)
        headers = api.auth if "{player_id}" in path else {}
        response = await api.client.post(real_path, json=wrap(text), headers=headers)
        assert response.status_code == (200 if valid else 422), (path, repr(text), await response.get_data())


async def test_every_body_is_required_and_one_without_a_type_is_415(api: Api) -> None:
    for path, operations in api.document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            assert operation["requestBody"]["required"] is True, (method, path)
            assert "415" in operation["responses"], (method, path)
            real_path = path.replace("{player_id}", api.player_id)
            headers = {**api.auth, **(ADMIN if path.startswith("/api/admin") else {})}
            for content in (None, b'{"name": "x"}'):
                response = await api.client.open(real_path, method=method.upper(), data=content, headers=headers)
                assert response.status_code == 415, (method, path, content, await response.get_data())
                error = (await response.get_json())["error"]
                assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]


async def test_error_answers_are_documented_in_the_error_shape(api: Api) -> None:
    paths = api.document["paths"]
    wanted = {
        ("post", "/api/players"): {"400", "413", "415", "422", "429", "503"},
        ("post", "/api/players/{player_id}/act"): {"401", "403", "404", "413", "415", "422", "429", "503"},
        ("get", "/api/players/{player_id}/log"): {"401", "403", "404", "422", "429", "503"},
        ("post", "/api/llm/chat"): {"401", "403", "413", "415", "422", "429", "503"},
        ("post", "/api/llm/parse"): {"401", "403", "413", "415", "422", "429", "503"},
        ("post", "/api/llm/batch"): {"401", "403", "413", "415", "422", "429", "503"},
        ("get", "/metrics"): {"401", "403", "404", "429"},
    }
    for (method, path), statuses in wanted.items():
        answers = paths[path][method]["responses"]
        assert statuses <= set(answers), (method, path, statuses - set(answers))
        for status in statuses:
            schema = answers[status]["content"]["application/json"]["schema"]
            assert schema["title"] == "ErrorBody" and schema["required"] == ["error"], (method, path, status)
    detail = api.component("ErrorDetail")
    assert detail["required"] == ["code", "message"]
    assert paths["/metrics"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    for path, names in (
        ("/api/llm/chat/stream", ["token", "done", "error"]),
        ("/api/players/{player_id}/act", ["narration", "answer", "error"]),
    ):
        event = paths[path]["post"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
        assert event["properties"]["event"]["enum"] == names


@pytest.mark.parametrize(
    "raw",
    [
        b'{"intent": "buy", "slots": {"\\ud800": "x"}}',  # a lone surrogate as a slot's name (was a 500)
        b'{"intent": "move", "slots": {"target": "\\u0000"}}',  # NUL into the log and back into narration
        b'{"intent": "move", "slots": {"target": "\\u001b[2J"}}',
        b'{"intent": "move", "slots": {"Target": "fangshi"}}',
    ],
)
async def test_bad_slots_are_refused_and_change_nothing(api: Api, raw: bytes) -> None:
    headers = {**api.auth, "Content-Type": "application/json"}
    response = await api.client.post(f"/api/players/{api.player_id}/act", data=raw, headers=headers)
    assert response.status_code == 422, await response.get_data()
    assert (await response.get_json())["error"]["code"] == "invalid_request"
    log = await (await api.client.get(f"/api/players/{api.player_id}/log", headers=api.auth)).get_json()
    assert log["entries"] == []


def test_an_error_quoting_a_lone_surrogate_can_still_be_sent() -> None:
    assert encodable("no scene '\ud800'") == "no scene '\\ud800'"
    assert encodable_fields({"fields": [{"field": "slots.\udfff", "message": "bad"}]}) == {
        "fields": [{"field": "slots.\\udfff", "message": "bad"}]
    }


@pytest.mark.parametrize(
    ("method", "template", "path"),
    [
        ("get", "/api/players/{player_id}", "/api/players/%00"),
        ("get", "/api/players/{player_id}/log", "/api/players/%00/log"),
        ("get", "/api/llm/tasks/{task_id}", "/api/llm/tasks/%00"),
    ],
)
async def test_an_id_no_store_can_hold_is_a_documented_422(api: Api, method: str, template: str, path: str) -> None:
    response = await api.client.open(path, method=method.upper(), headers=api.auth)
    assert response.status_code == 422 and (await response.get_json())["error"]["code"] == "invalid_request"
    assert "422" in api.document["paths"][template][method]["responses"]
