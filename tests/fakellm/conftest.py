"""The fake served in-process on a free port, with a stand-in interpreter, and an httpx client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import pytest

from tests.support.fakellm import FakeConfig, RunningFake, running_fake

KEY = "sk-fake-test"


class StandInInterpreter:
    """Answers `去X` with a move to X and anything else with look; remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, utterance: str, scene: str | None) -> Mapping[str, Any]:
        self.calls.append((utterance, scene))
        if utterance.startswith("去"):
            return {"intent": "move", "slots": {"target": utterance[1:]}, "allowed": True, "reason": "", "law": None}
        return {"intent": "look", "slots": {}, "allowed": True, "reason": f"在{scene}", "law": None}


def chat_body(content: str = "你好", **extra: Any) -> dict[str, Any]:
    return {"model": "deepseek-chat", "messages": [{"role": "user", "content": content}], **extra}


def content_of(response: httpx.Response) -> str:
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


async def poll(condition: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until `condition()` holds, checking every 20 ms, or fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def config() -> FakeConfig:
    return FakeConfig(port=0, key=KEY, trickle_interval=0.1, shutdown_timeout=1.0)


@pytest.fixture
def interpreter() -> StandInInterpreter:
    return StandInInterpreter()


@pytest.fixture
async def fake(config: FakeConfig, interpreter: StandInInterpreter) -> AsyncIterator[RunningFake]:
    async with running_fake(config, interpreter) as running:
        yield running


@pytest.fixture
async def client(fake: RunningFake) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5.0) as client:
        yield client
