"""Single-flight parses and the bounded, expiring parse cache."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.llm.conftest import Harness, ManualClock, answer, poll
from xianxia.engine.intents import ParseContext
from xianxia.llm.errors import LLMServerError
from xianxia.llm.flight import SingleFlight, TTLCache

CONTEXT = ParseContext(scene="zhucheng", realm="lianqi", player_id="player-1")
CULTIVATE = '{"intent": "cultivate", "slots": {}}'


class GatedUpstream:
    """Answers only once released; counts the requests that reached it."""

    def __init__(self, content: str = CULTIVATE) -> None:
        self.content = content
        self.requests = 0
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await self.release.wait()
        return answer(self.content)


async def test_twenty_identical_concurrent_parses_send_one_request(harness: Harness) -> None:
    upstream = GatedUpstream()
    harness.route.side_effect = upstream
    client = await harness.client()
    contexts = [CONTEXT.model_copy(update={"player_id": f"player-{i}"}) for i in range(20)]

    calls = asyncio.gather(*(client.parse_async("打坐", ctx) for ctx in contexts))
    await poll(lambda: upstream.requests == 1)
    upstream.release.set()
    results = await calls

    assert upstream.requests == 1
    assert results == [{"intent": "cultivate", "slots": {}, "allowed": True, "reason": ""}] * 20


async def test_a_cancelled_waiter_leaves_the_shared_call_running_for_the_others(harness: Harness) -> None:
    upstream = GatedUpstream()
    harness.route.side_effect = upstream
    client = await harness.client()

    impatient = asyncio.create_task(client.parse_async("打坐", CONTEXT))
    patient = asyncio.create_task(client.parse_async("打坐", CONTEXT.model_copy(update={"player_id": "p2"})))
    await poll(lambda: upstream.requests == 1)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    upstream.release.set()

    assert (await patient)["intent"] == "cultivate"
    assert upstream.requests == 1


async def test_a_call_every_waiter_abandoned_still_fills_the_cache(harness: Harness) -> None:
    upstream = GatedUpstream()
    harness.route.side_effect = upstream
    client = await harness.client()

    waiter = asyncio.create_task(client.parse_async("打坐", CONTEXT))
    await poll(lambda: upstream.requests == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    upstream.release.set()
    await poll(lambda: client.flights_in_progress == 0)

    assert (await client.parse_async("打坐", CONTEXT))["intent"] == "cultivate"
    assert upstream.requests == 1


async def test_aclose_cancels_abandoned_calls(harness: Harness) -> None:
    upstream = GatedUpstream()  # never released
    harness.route.side_effect = upstream
    client = await harness.client()

    waiter = asyncio.create_task(client.parse_async("打坐", CONTEXT))
    await poll(lambda: upstream.requests == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert client.flights_in_progress == 1

    await client.aclose()
    assert client.flights_in_progress == 0


async def test_a_failed_shared_call_fails_every_waiter_and_is_not_cached(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(400)
    client = await harness.client()

    results = await asyncio.gather(*(client.parse_async("打坐", CONTEXT) for _ in range(3)), return_exceptions=True)
    assert all(type(result).__name__ == "LLMRequestRejected" for result in results)
    assert harness.route.call_count == 1

    harness.route.return_value = answer(CULTIVATE)
    assert (await client.parse_async("打坐", CONTEXT))["intent"] == "cultivate"
    assert harness.route.call_count == 2


async def test_single_flight_shares_results_and_errors() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    both = asyncio.gather(flight.run("k", work), flight.run("k", work))
    await poll(lambda: calls == 1)
    release.set()
    assert list(await both) == [42, 42]

    async def boom() -> int:
        raise LLMServerError("down", status_code=503)

    with pytest.raises(LLMServerError):
        await flight.run("k", boom)
    assert len(flight) == 0


def test_cache_evicts_the_least_recently_used_entry() -> None:
    cache: TTLCache[str, int] = TTLCache(maxsize=2, ttl=60.0)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)

    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert len(cache) == 2


def test_cache_entries_expire_after_their_ttl() -> None:
    clock = ManualClock()
    cache: TTLCache[str, int] = TTLCache(maxsize=10, ttl=300.0, clock=clock)
    cache.put("a", 1)
    clock.advance(299.0)
    assert cache.get("a") == 1
    clock.advance(1.0)
    assert cache.get("a") is None
    assert len(cache) == 0
