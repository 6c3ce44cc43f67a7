"""Each injected fault produces DeepSeek's failure mode as a client sees it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.fakellm.conftest import chat_body, content_of, poll
from tests.support.fakellm import FAULT_HEADER, FakeConfig, RunningFake, running_fake
from tests.support.fakellm.answers import MALFORMED_JSON

PARSE = chat_body(json.dumps({"utterance": "去坊市", "scene": "zhucheng"}), response_format={"type": "json_object"})


def forced(fault: str) -> dict[str, str]:
    return {FAULT_HEADER: fault}


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        ("server_error", 500, "server_error"),
        ("unavailable", 503, "server_error"),
        ("rate_limit", 429, "rate_limit_error"),
        ("rate_limit_retry_after", 429, "rate_limit_error"),
        ("unauthorized", 401, "authentication_error"),
        ("payment_required", 402, "insufficient_balance"),
    ],
)
async def test_error_faults_answer_their_status_with_an_openai_error(
    client: httpx.AsyncClient, fault: str, status: int, error_type: str
) -> None:
    response = await client.post("/chat/completions", json=chat_body(), headers=forced(fault))

    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type


async def test_only_rate_limit_retry_after_sends_retry_after(client: httpx.AsyncClient) -> None:
    plain = await client.post("/chat/completions", json=chat_body(), headers=forced("rate_limit"))
    polite = await client.post("/chat/completions", json=chat_body(), headers=forced("rate_limit_retry_after"))

    assert "Retry-After" not in plain.headers
    assert polite.headers["Retry-After"] == "1"


async def test_payment_required_says_insufficient_balance(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=chat_body(), headers=forced("payment_required"))

    assert response.json()["error"]["message"] == "Insufficient Balance"


async def test_blank_content_is_a_200_with_whitespace_content(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=PARSE, headers=forced("blank_content"))

    assert response.status_code == 200
    assert content_of(response) == "   \n"


async def test_fenced_json_wraps_the_intent_in_a_fence_with_prose(client: httpx.AsyncClient) -> None:
    content = content_of(await client.post("/chat/completions", json=PARSE, headers=forced("fenced_json")))

    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    before, fence, rest = content.partition("```json\n")
    inner, _, after = rest.partition("\n```")
    assert fence and before.strip() and after.strip()
    assert json.loads(inner)["intent"] == "move"


async def test_malformed_json_is_not_json(client: httpx.AsyncClient) -> None:
    content = content_of(await client.post("/chat/completions", json=PARSE, headers=forced("malformed_json")))

    assert content == MALFORMED_JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


async def test_hostile_answer_is_valid_json_attacking_a_nonexistent_target_with_extra_fields(
    client: httpx.AsyncClient,
) -> None:
    answer = json.loads(content_of(await client.post("/chat/completions", json=PARSE, headers=forced("hostile"))))

    assert answer["intent"] == "attack" and answer["allowed"] is True
    assert answer["slots"]["target"] not in {"yelang", "lingtu", "chiyanhu"}
    assert set(answer) - {"intent", "slots", "allowed", "reason"}


async def test_trickle_sends_headers_then_blank_lines_and_never_completes_in_time(client: httpx.AsyncClient) -> None:
    received = b""
    async with client.stream("POST", "/chat/completions", json=chat_body(), headers=forced("trickle")) as response:
        assert response.status_code == 200

        async def read_all() -> None:
            nonlocal received
            async for chunk in response.aiter_raw():
                received += chunk

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(read_all(), timeout=0.5)

    assert received and not received.strip()


async def test_trickle_finishes_with_the_completion_after_its_duration() -> None:
    config = FakeConfig(port=0, trickle_seconds=0.3, trickle_interval=0.1)
    async with running_fake(config) as fake, httpx.AsyncClient(base_url=fake.base_url) as client:
        response = await client.post(
            "/chat/completions", json=chat_body("hi"), headers={"Authorization": "Bearer k", **forced("trickle")}
        )

    assert response.text.startswith("\n")
    assert response.json()["object"] == "chat.completion"


async def test_slow_outlasts_the_client_deadline_and_is_cancelled_when_the_client_leaves(
    client: httpx.AsyncClient, fake: RunningFake
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/chat/completions", json=chat_body(), headers=forced("slow"), timeout=0.3)

    await poll(lambda: fake.state.stats.in_flight == 0)


async def test_drop_closes_the_connection_without_a_response(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.TransportError):
        await client.post("/chat/completions", json=chat_body(), headers=forced("drop"))


async def test_unknown_forced_fault_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=chat_body(), headers=forced("meteor"))

    assert response.status_code == 400
    assert "meteor" in response.json()["error"]["message"]


async def test_shutdown_releases_a_slow_request_promptly() -> None:
    # The slow fault and the shutdown grace are minutes; the bound fails the test long before unless shutdown
    # wakes the slow handler at once.
    async with asyncio.timeout(30):
        async with running_fake(FakeConfig(port=0, shutdown_timeout=120.0, slow_seconds=120.0)) as fake:
            client = httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": "Bearer k"})
            pending = asyncio.create_task(client.post("/chat/completions", json=chat_body(), headers=forced("slow")))
            await poll(lambda: fake.state.stats.in_flight == 1)
    await asyncio.gather(pending, return_exceptions=True)
    await client.aclose()

    assert fake.state.closing.is_set()
    assert fake.state.stats.in_flight == 0
