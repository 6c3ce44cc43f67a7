"""Bearer-key checks: a configured key is required; without one any non-empty key passes."""

from __future__ import annotations

import httpx
import pytest

from tests.fakellm.conftest import StandInInterpreter, chat_body
from tests.support.fakellm import FakeConfig, running_fake


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "Bearer"}, {"Authorization": "Basic sk-fake-test"}],
)
async def test_wrong_or_missing_key_is_a_401_with_an_openai_error(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    client.headers.pop("Authorization")

    response = await client.post("/chat/completions", json=chat_body(), headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_without_a_configured_key_any_nonempty_key_is_accepted() -> None:
    async with (
        running_fake(FakeConfig(port=0), StandInInterpreter()) as fake,
        httpx.AsyncClient(base_url=fake.base_url) as client,
    ):
        accepted = await client.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer x"})
        refused = await client.post("/chat/completions", json=chat_body())

    assert accepted.status_code == 200
    assert refused.status_code == 401
