"""DeepSeekClient: happy paths, request shape, the sync/thread paths, fatal auth errors, caps and clean shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.llm.conftest import API_KEY, Harness, answer, llm_settings, poll
from xianxia.engine.intents import ParseContext
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.errors import InvalidLLMOutput, LLMAuthError, LLMBusy, LLMTimeout, LLMUnavailable
from xianxia.world import World

CONTEXT = ParseContext(scene="zhucheng", realm="lianqi", player_id="player-1")
CULTIVATE = '{"intent": "cultivate", "slots": {}}'


def blank_lines(harness: Harness) -> Iterator[bytes]:
    """DeepSeek's overload trickle for the thread path: a keep-alive blank line every 0.02 s of the client's clock."""
    while True:
        harness.clock.advance(0.02)
        yield b"\n"


async def async_blank_lines() -> AsyncIterator[bytes]:
    """The same trickle for the async client."""
    while True:
        await asyncio.sleep(0.02)
        yield b"\n"


async def test_chat_async_returns_the_answer_text_and_sends_a_chat_completion(harness: Harness) -> None:
    harness.route.return_value = answer("道友请留步")
    client = await harness.client()

    assert await client.chat_async("你好") == {"text": "道友请留步"}

    request = harness.route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = harness.bodies()[0]
    assert body["model"] == "deepseek-chat"
    assert body["stream"] is False
    assert body["messages"][-1] == {"role": "user", "content": "你好"}
    assert "response_format" not in body
    assert harness.observer.requests == [("chat", "ok")]


async def test_sync_thread_and_async_chat_give_the_same_result(harness: Harness) -> None:
    harness.route.return_value = answer("灵气充沛")
    client = await harness.client()

    async_result = await client.chat_async("问")
    thread_result = await client.chat_in_thread("问")
    sync_result = await asyncio.to_thread(client.chat, "问")

    assert async_result == thread_result == sync_result == {"text": "灵气充沛"}
    assert harness.route.call_count == 3


async def test_parse_async_sends_json_mode_and_a_hashed_user_and_returns_the_validated_intent(harness: Harness) -> None:
    harness.route.return_value = answer(CULTIVATE)
    client = await harness.client()

    result = await client.parse_async("打坐", CONTEXT)

    assert result == {"intent": "cultivate", "slots": {}, "allowed": True, "reason": ""}
    body = harness.bodies()[0]
    assert body["response_format"] == {"type": "json_object"}
    assert body["user_id"] == hashlib.sha256(b"player-1").hexdigest()[:16]
    assert "player-1" not in str(body)


async def test_parse_in_thread_and_parse_async_agree(harness: Harness) -> None:
    harness.route.return_value = answer(CULTIVATE)
    first, second = await harness.client(), await harness.client()  # two clients: no shared cache

    assert await first.parse_async("打坐", CONTEXT) == await second.parse_in_thread("打坐", CONTEXT)
    assert harness.route.call_count == 2


async def test_parse_rejects_an_answer_that_fails_validation_without_retrying(harness: Harness) -> None:
    harness.route.return_value = answer('{"intent": "fly_to_the_moon", "slots": {}}')
    client = await harness.client()

    with pytest.raises(InvalidLLMOutput):
        await client.parse_async("飞", CONTEXT)
    assert harness.route.call_count == 1
    assert ("parse", "invalid_output") in harness.observer.errors


async def test_a_validated_parse_is_cached_for_every_player_but_chat_is_not(harness: Harness) -> None:
    harness.route.return_value = answer(CULTIVATE)
    client = await harness.client()

    first = await client.parse_async("打坐", CONTEXT)
    again = await client.parse_async("打坐", CONTEXT.model_copy(update={"player_id": "player-2"}))
    assert first == again
    assert harness.route.call_count == 1

    await client.parse_async("打坐", CONTEXT.model_copy(update={"scene": "fangshi"}))
    assert harness.route.call_count == 2

    harness.route.return_value = answer("好")
    await client.chat_async("你好")
    await client.chat_async("你好")
    assert harness.route.call_count == 4


@pytest.mark.parametrize("status", [401, 402])
async def test_auth_failure_is_fatal_reported_once_per_armed_period_and_not_retried(
    harness: Harness, status: int
) -> None:
    harness.route.return_value = httpx.Response(status, json={"error": {"message": "no"}})
    client = await harness.client()

    for _ in range(2):
        with pytest.raises(LLMAuthError) as caught:
            await client.chat_async("你好")
        assert caught.value.status_code == status
    assert harness.route.call_count == 2  # one request per call: never retried
    assert len(harness.fatal) == 1  # the LLM is being switched off already: once is enough
    assert str(status) in harness.fatal[0]


@pytest.mark.parametrize("path", ["async", "thread"])
async def test_after_rearming_the_next_auth_failure_switches_the_llm_off_again(harness: Harness, path: str) -> None:
    harness.route.return_value = httpx.Response(402, json={"error": {"message": "no balance"}})
    client = await harness.client()

    async def call() -> None:
        with pytest.raises(LLMAuthError):
            await (client.chat_async("你好") if path == "async" else client.chat_in_thread("你好"))

    await call()
    client.rearm_fatal()  # an operator switched the LLM back on
    await call()
    await call()
    assert len(harness.fatal) == 2


async def test_sync_auth_failure_calls_on_fatal_too(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(401)
    client = await harness.client()

    with pytest.raises(LLMAuthError):
        await client.chat_in_thread("你好")
    assert harness.route.call_count == 1
    assert len(harness.fatal) == 1


async def test_without_an_api_key_nothing_is_sent(harness: Harness) -> None:
    client = await harness.client(deepseek_api_key=None)

    with pytest.raises(LLMUnavailable):
        await client.chat_async("你好")
    with pytest.raises(LLMUnavailable):
        await client.parse_async("打坐", CONTEXT)
    assert harness.route.call_count == 0


async def test_a_player_over_the_in_flight_cap_is_refused_at_once(harness: Harness) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.read().decode())
        entered.set()
        await release.wait()
        return answer("好")

    harness.route.side_effect = slow
    client = await harness.client(llm_per_player_inflight=1)
    first = asyncio.create_task(client.complete_async([{"role": "user", "content": "a"}], user="u1"))
    await entered.wait()

    with pytest.raises(LLMBusy):
        await client.complete_async([{"role": "user", "content": "b"}], user="u1")
    other = asyncio.create_task(client.complete_async([{"role": "user", "content": "c"}], user="u2"))
    await poll(lambda: len(seen) == 2)
    release.set()

    assert await first == "好"
    assert await other == "好"
    assert harness.route.call_count == 2
    assert ("chat", "busy") in harness.observer.errors
    # the slot is free again once the first call is done
    assert await client.complete_async([{"role": "user", "content": "d"}], user="u1") == "好"


async def test_fifty_concurrent_chats_are_all_upstream_at_once(harness: Harness) -> None:
    arrived: list[httpx.Request] = []
    all_in = asyncio.Event()

    async def wait_for_all_fifty(request: httpx.Request) -> httpx.Response:
        arrived.append(request)
        if len(arrived) == 50:
            all_in.set()
        await all_in.wait()  # a client that sent them one by one would never get all fifty here
        return answer("好")

    harness.route.side_effect = wait_for_all_fifty
    client = await harness.client()

    async with asyncio.timeout(30):  # a bound on failure, not a measurement
        results = await asyncio.gather(*(client.chat_async(f"问{i}") for i in range(50)))

    assert results == [{"text": "好"}] * 50
    assert harness.observer.inflight_peak == 50
    assert harness.observer.inflight_now == 0


async def test_a_call_waits_for_a_concurrency_slot_at_most_its_budget_then_is_busy(harness: Harness) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    calls: list[httpx.Request] = []

    async def hold_the_only_slot(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        entered.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            await release.wait()  # an upstream read that will not let go: the slot stays taken past its deadline
            raise
        return answer("好")

    harness.route.side_effect = hold_the_only_slot
    client = await harness.client(llm_max_concurrency=1, llm_timeout=0.2)
    first = asyncio.create_task(client.chat_async("a"))
    await entered.wait()

    with pytest.raises(LLMBusy, match=r"within 0\.2s"):
        await client.chat_async("b")
    assert len(calls) == 1  # the busy call never reached the upstream

    release.set()
    await asyncio.gather(first, return_exceptions=True)
    harness.route.side_effect = None
    harness.route.return_value = answer("好")
    assert await client.chat_async("c") == {"text": "好"}


async def test_a_hanging_upstream_times_out_within_llm_timeout_retries_included(harness: Harness) -> None:
    attempts: list[float] = []
    cancelled: list[bool] = []

    async def hang_for_the_whole_budget(request: httpx.Request) -> httpx.Response:
        attempts.append(harness.clock())
        harness.clock.advance(0.5)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return answer("太迟")

    harness.route.side_effect = hang_for_the_whole_budget
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    with pytest.raises(LLMTimeout, match=r"within 0\.5s"):
        await client.chat_async("你好")

    assert cancelled == [True]  # the client cut the attempt off at its deadline
    assert len(attempts) == 1  # the first attempt had the whole budget: nothing was left to retry with
    assert harness.observer.retries == []


async def test_a_retry_gets_only_what_is_left_of_llm_timeout(harness: Harness) -> None:
    attempts: list[float] = []

    async def slow_failure_then_hang(request: httpx.Request) -> httpx.Response:
        attempts.append(harness.clock())
        if len(attempts) == 1:
            harness.clock.advance(0.3)
            return httpx.Response(503, headers={"Retry-After": "0"})
        harness.clock.advance(0.2)  # the second attempt hangs through the rest of the budget
        await asyncio.Event().wait()
        return answer("太迟")

    harness.route.side_effect = slow_failure_then_hang
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    with pytest.raises(LLMTimeout, match=r"within 0\.2s"):  # not a fresh 0.5
        await client.chat_async("你好")

    assert len(attempts) == 2
    assert attempts[1] - attempts[0] == pytest.approx(0.3)


async def test_a_threaded_retry_gets_only_what_is_left_of_llm_timeout(harness: Harness) -> None:
    attempts: list[float] = []

    def slow_failure_then_blank_lines(request: httpx.Request) -> httpx.Response:
        attempts.append(harness.clock())
        if len(attempts) == 1:
            harness.clock.advance(0.3)
            return httpx.Response(503, headers={"Retry-After": "0"})
        return httpx.Response(200, content=blank_lines(harness))

    harness.route.side_effect = slow_failure_then_blank_lines
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    with pytest.raises(LLMTimeout, match=r"within 0\.2s"):  # not a fresh 0.5
        await client.chat_in_thread("你好")

    assert len(attempts) == 2


async def test_time_queued_for_a_worker_thread_counts_against_llm_timeout(harness: Harness) -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[httpx.Request] = []

    def occupy_the_worker_then_trickle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            entered.set()
            release.wait(10)
            harness.clock.advance(0.3)  # the second call waits in the queue all this time
            return answer("好")
        return httpx.Response(200, content=blank_lines(harness))

    harness.route.side_effect = occupy_the_worker_then_trickle
    client = await harness.client(llm_timeout=0.5, llm_max_workers=1)
    first = asyncio.create_task(client.chat_in_thread("占位"))
    await poll(entered.is_set)
    second = asyncio.create_task(client.chat_in_thread("你好"))
    # Runs after the second task's first step, which queued it (and fixed its deadline) for the one worker.
    asyncio.get_running_loop().call_soon(release.set)

    assert await first == {"text": "好"}
    with pytest.raises(LLMTimeout, match=r"within 0\.2s"):  # not 0.3 queued + a fresh 0.5
        await second


async def test_blank_keepalive_lines_do_not_keep_an_attempt_alive_past_its_deadline(harness: Harness) -> None:
    harness.route.side_effect = lambda request: httpx.Response(200, content=async_blank_lines())
    client = await harness.client(llm_timeout=0.2, llm_max_retries=1)

    async with asyncio.timeout(10):  # the lines never end: without the deadline this bound fails the test
        with pytest.raises(LLMTimeout, match=r"within 0\.2s"):
            await client.chat_async("你好")


async def test_the_sync_path_enforces_the_deadline_while_reading_blank_lines(harness: Harness) -> None:
    harness.route.side_effect = lambda request: httpx.Response(200, content=blank_lines(harness))
    client = await harness.client(llm_timeout=0.2, llm_max_retries=1)

    with pytest.raises(LLMTimeout, match=r"within 0\.2s"):
        await client.chat_in_thread("你好")
    assert harness.clock.now - 1000.0 == pytest.approx(0.22)  # cut off at the first line past the deadline


async def test_aclose_closes_the_pool_and_the_threads_and_is_idempotent(llm_world: World) -> None:
    client = DeepSeekClient(llm_settings(), llm_world)  # the default transports
    await client.start()
    assert client.open_resources == ("async_client", "sync_client", "thread_pool")

    await client.aclose()
    await client.aclose()

    assert client.open_resources == ()
    with pytest.raises(LLMUnavailable):
        await client.chat_async("你好")
    with pytest.raises(LLMUnavailable):
        await client.chat_in_thread("你好")
