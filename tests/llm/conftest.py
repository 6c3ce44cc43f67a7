"""DeepSeek client fixtures: respx routes as the transport, recorded sleeps, a manual clock, a recording observer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from xianxia.config import Settings
from xianxia.llm.client import DeepSeekClient
from xianxia.world import World, load_world

BASE_URL = "https://deepseek.test"
API_KEY = "sk-test-key"
#: The wall-clock time the harness's clients read HTTP dates against (Retry-After).
WALL_NOW = 1_800_000_000.0


def completion(content: str | None) -> dict[str, Any]:
    """A `/chat/completions` answer carrying `content`."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


def answer(content: str | None) -> httpx.Response:
    return httpx.Response(200, json=completion(content))


def llm_settings(**overrides: Any) -> Settings:
    """Small timeouts so deadline tests stay fast; a breaker that does not trip in ordinary tests."""
    values: dict[str, Any] = {
        "deepseek_api_key": API_KEY,
        "deepseek_base_url": BASE_URL,
        "llm_timeout": 2.0,
        "llm_connect_timeout": 1.0,
        "llm_max_retries": 3,
        "llm_max_workers": 4,
        "llm_breaker_failures": 100,
        "llm_breaker_cooldown": 30.0,
        "llm_per_player_inflight": 100,
    }
    values.update(overrides)
    return Settings(**values)


async def poll(condition: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until `condition()` holds, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingObserver:
    """Keeps every report the client makes."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    retries: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    circuits: list[str] = field(default_factory=list)
    inflight_now: int = 0
    inflight_peak: int = 0

    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None:
        self.requests.append((kind, outcome))

    def retry(self, kind: str, reason: str) -> None:
        self.retries.append((kind, reason))

    def error(self, kind: str, error_type: str) -> None:
        self.errors.append((kind, error_type))

    def circuit(self, state: str) -> None:
        self.circuits.append(state)

    def inflight(self, delta: int) -> None:
        self.inflight_now += delta
        self.inflight_peak = max(self.inflight_peak, self.inflight_now)

    def decision(self, decision: str) -> None:
        pass


@dataclass
class Harness:
    """Builds started clients wired to one respx router; everything it built is closed after the test."""

    world: World
    router: respx.MockRouter
    route: respx.Route
    observer: RecordingObserver = field(default_factory=RecordingObserver)
    clock: ManualClock = field(default_factory=ManualClock)
    waits: list[float] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)
    clients: list[DeepSeekClient] = field(default_factory=list)

    async def client(self, **overrides: Any) -> DeepSeekClient:
        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)
            self.clock.advance(seconds)  # a wait takes its time on the client's clock, not the test's

        def sync_sleep(seconds: float) -> None:
            self.waits.append(seconds)
            self.clock.advance(seconds)

        client = DeepSeekClient(
            llm_settings(**overrides),
            self.world,
            observer=self.observer,
            transport=httpx.MockTransport(self.router.async_handler),
            sync_transport=httpx.MockTransport(self.router.handler),
            on_fatal=self.fatal.append,
            sleep=sleep,
            sync_sleep=sync_sleep,
            clock=self.clock,
            wall_clock=lambda: WALL_NOW,
        )
        await client.start()
        self.clients.append(client)
        return client

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies sent upstream, in order."""
        return [json.loads(call.request.content) for call in self.route.calls]


@pytest.fixture(scope="session")
def llm_world() -> World:
    return load_world()


@pytest.fixture
async def harness(llm_world: World) -> AsyncIterator[Harness]:
    router = respx.MockRouter(base_url=BASE_URL, assert_all_called=False)
    route = router.post("/chat/completions")
    built = Harness(world=llm_world, router=router, route=route)
    yield built
    for client in built.clients:
        await client.aclose()
