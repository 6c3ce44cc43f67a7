"""DeepSeekClient: happy paths, request shape, the sync/thread paths, fatal auth errors, caps and clean shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import time
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
#: What a call may overrun its total budget by (scheduling, thread hand-over).
# Slack for a shared, noisy machine; still well below "the deadline plus another full attempt".
EPSILON = 0.25


def blank_lines() -> Iterator[bytes]:
    """DeepSeek's overload trickle: keep-alive blank lines, never an answer (for the thread path)."""
    while True:
        time.sleep(0.02)
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


async def test_fifty_concurrent_chats_against_a_one_second_upstream_run_concurrently(harness: Harness) -> None:
    async def one_second(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return answer("好")

    harness.route.side_effect = one_second
    client = await harness.client()

    started = time.monotonic()
    results = await asyncio.gather(*(client.chat_async(f"问{i}") for i in range(50)))

    assert time.monotonic() - started < 5.0
    assert results == [{"text": "好"}] * 50
    assert harness.observer.inflight_peak == 50
    assert harness.observer.inflight_now == 0


async def test_a_call_waits_for_a_concurrency_slot_at_most_a_deadline_then_is_busy(harness: Harness) -> None:
    harness.route.return_value = answer("好")
    client = await harness.client(llm_max_concurrency=1, llm_timeout=0.2)
    slots = client._slots
    assert slots is not None
    await slots.acquire()  # every slot taken (white box: a held slot would otherwise time out at the same deadline)

    started = time.monotonic()
    with pytest.raises(LLMBusy):
        await client.chat_async("a")
    assert 0.15 < time.monotonic() - started < 1.0
    assert harness.route.call_count == 0

    slots.release()
    assert await client.chat_async("b") == {"text": "好"}


async def test_a_hanging_upstream_times_out_within_llm_timeout_retries_included(harness: Harness) -> None:
    attempts: list[float] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        attempts.append(time.monotonic())
        await asyncio.sleep(60)
        return answer("太迟")

    harness.route.side_effect = hang
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        await client.chat_async("你好")

    assert time.monotonic() - started < 0.5 + EPSILON
    assert len(attempts) == 1  # the first attempt had the whole budget: nothing was left to retry with
    assert harness.observer.retries == []


async def test_a_retry_gets_only_what_is_left_of_llm_timeout(harness: Harness) -> None:
    attempts: list[float] = []

    async def slow_failure_then_hang(request: httpx.Request) -> httpx.Response:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            await asyncio.sleep(0.3)
            return httpx.Response(503, headers={"Retry-After": "0"})
        await asyncio.sleep(60)
        return answer("太迟")

    harness.route.side_effect = slow_failure_then_hang
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        await client.chat_async("你好")

    assert time.monotonic() - started < 0.5 + EPSILON  # not 0.3 + a fresh 0.5
    assert len(attempts) == 2


async def test_a_threaded_retry_gets_only_what_is_left_of_llm_timeout(harness: Harness) -> None:
    attempts: list[float] = []

    def slow_failure_then_blank_lines(request: httpx.Request) -> httpx.Response:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            time.sleep(0.3)
            return httpx.Response(503, headers={"Retry-After": "0"})
        return httpx.Response(200, content=blank_lines())

    harness.route.side_effect = slow_failure_then_blank_lines
    client = await harness.client(llm_timeout=0.5, llm_max_retries=3)

    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        await client.chat_in_thread("你好")

    assert time.monotonic() - started < 0.5 + EPSILON
    assert len(attempts) == 2


async def test_time_queued_for_a_worker_thread_counts_against_llm_timeout(harness: Harness) -> None:
    harness.route.side_effect = lambda request: httpx.Response(200, content=blank_lines())
    client = await harness.client(llm_timeout=0.5, llm_max_workers=1)
    executor = client._executor
    assert executor is not None
    started = time.monotonic()
    executor.submit(time.sleep, 0.3)  # the one worker thread is busy for 0.3 s (white box)

    with pytest.raises(LLMTimeout):
        await client.chat_in_thread("你好")
    assert time.monotonic() - started < 0.5 + EPSILON  # not 0.3 queued + a fresh 0.5


async def test_blank_keepalive_lines_do_not_keep_an_attempt_alive_past_its_deadline(harness: Harness) -> None:
    harness.route.side_effect = lambda request: httpx.Response(200, content=async_blank_lines())
    client = await harness.client(llm_timeout=0.2, llm_max_retries=1)

    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        await client.chat_async("你好")
    assert time.monotonic() - started < 0.2 + 0.5


async def test_the_sync_path_enforces_the_deadline_while_reading_blank_lines(harness: Harness) -> None:
    harness.route.side_effect = lambda request: httpx.Response(200, content=blank_lines())
    client = await harness.client(llm_timeout=0.2, llm_max_retries=1)

    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        await client.chat_in_thread("你好")
    assert time.monotonic() - started < 0.2 + 0.5


async def test_aclose_closes_the_pool_and_the_threads_and_is_idempotent(llm_world: World) -> None:
    client = DeepSeekClient(llm_settings(), llm_world)  # the default transports
    await client.start()
    http, sync_http, executor = client._client, client._sync_client, client._executor
    assert http is not None and sync_http is not None and executor is not None

    await client.aclose()
    await client.aclose()

    assert http.is_closed and sync_http.is_closed
    with pytest.raises(RuntimeError):  # a shut-down executor refuses work
        executor.submit(print)
    with pytest.raises(LLMUnavailable):
        await client.chat_async("你好")
    with pytest.raises(LLMUnavailable):
        await client.chat_in_thread("你好")
