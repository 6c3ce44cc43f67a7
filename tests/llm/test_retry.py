"""The retry policy: what is retried, how long it waits (Retry-After, full jitter), when it stops."""

from __future__ import annotations

import random
from email.utils import formatdate
from typing import Literal

import httpx
import pytest
from structlog.testing import capture_logs
from tenacity import RetryCallState, Retrying

from tests.llm.conftest import WALL_NOW, Harness, ManualClock, answer
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.errors import (
    LLMAuthError,
    LLMBlankAnswer,
    LLMBusy,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    LLMUpstreamError,
)
from xianxia.llm.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, should_retry, wait_retry_after

Path = Literal["async", "thread"]


async def chat(client: DeepSeekClient, path: Path) -> dict[str, str]:
    return await (client.chat_async("你好") if path == "async" else client.chat_in_thread("你好"))


def fault(kind: str) -> httpx.Response | Exception:
    """One failure of the named kind, as a respx side effect."""
    if kind == "connect_error":
        return httpx.ConnectError("refused")
    if kind == "read_timeout":
        return httpx.ReadTimeout("slow")
    if kind == "blank":
        return answer("  \n ")
    if kind == "null_content":
        return answer(None)
    if kind == "empty_body":
        return httpx.Response(200, content=b"\n\n")
    return httpx.Response(int(kind), json={"error": {"message": "busy"}})


RETRYABLE = {
    "connect_error": "connection_error",
    "read_timeout": "timeout",
    "408": "upstream_error",
    "409": "upstream_error",
    "429": "rate_limited",
    "500": "server_error",
    "503": "server_error",
    "blank": "blank_answer",
    "null_content": "blank_answer",
    "empty_body": "blank_answer",
}


@pytest.mark.parametrize("path", ["async", "thread"])
@pytest.mark.parametrize("kind", list(RETRYABLE))
async def test_a_transient_fault_is_retried_and_recovers(harness: Harness, kind: str, path: Path) -> None:
    harness.route.side_effect = [fault(kind), answer("无事")]
    client = await harness.client()

    assert await chat(client, path) == {"text": "无事"}
    assert harness.route.call_count == 2
    assert harness.observer.retries == [("chat", RETRYABLE[kind])]
    assert len(harness.waits) == 1


@pytest.mark.parametrize("path", ["async", "thread"])
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, LLMRequestRejected),
        (401, LLMAuthError),
        (402, LLMAuthError),
        (403, LLMRequestRejected),
        (404, LLMRequestRejected),
        (422, LLMRequestRejected),
    ],
)
async def test_a_refused_request_is_sent_exactly_once(
    harness: Harness, status: int, error: type[LLMError], path: Path
) -> None:
    harness.route.return_value = httpx.Response(status, json={"error": {"message": "no"}})
    client = await harness.client()

    with pytest.raises(error):
        await chat(client, path)
    assert harness.route.call_count == 1
    assert harness.observer.retries == []
    assert harness.waits == []


async def test_retries_stop_after_max_attempts_and_raise_the_last_error(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(503)
    client = await harness.client(llm_max_retries=3)

    with capture_logs() as logs, pytest.raises(LLMServerError) as caught:
        await client.chat_async("你好")

    assert caught.value.status_code == 503
    assert harness.route.call_count == 3
    retries = [entry for entry in logs if entry["event"] == "llm_retry"]
    assert [entry["attempt"] for entry in retries] == [1, 2]
    assert all(entry["reason"] == "server_error" and entry["wait"] >= 0 for entry in retries)
    assert harness.observer.requests == [("chat", "server_error")]


async def test_retry_after_in_seconds_is_honoured(harness: Harness) -> None:
    harness.route.side_effect = [httpx.Response(429, headers={"Retry-After": "7"}), answer("好")]
    client = await harness.client(llm_timeout=10.0)

    assert await client.chat_async("你好") == {"text": "好"}
    assert harness.waits == [7.0]


async def test_retry_after_as_an_http_date_is_honoured(harness: Harness) -> None:
    when = formatdate(WALL_NOW + 20, usegmt=True)
    harness.route.side_effect = [httpx.Response(503, headers={"Retry-After": when}), answer("好")]
    client = await harness.client(llm_timeout=30.0)

    assert await client.chat_in_thread("你好") == {"text": "好"}
    assert harness.waits == [20.0]


@pytest.mark.parametrize("path", ["async", "thread"])
@pytest.mark.parametrize("retry_after", ["7", "50"])
async def test_a_retry_after_beyond_llm_timeout_gives_up_instead_of_waiting(
    harness: Harness, path: Path, retry_after: str
) -> None:
    harness.route.return_value = httpx.Response(429, headers={"Retry-After": retry_after})
    client = await harness.client(llm_timeout=5.0, llm_max_retries=3)  # 5 s for the call, retries included

    with pytest.raises(LLMRateLimited) as caught:
        await chat(client, path)
    assert caught.value.retry_after == float(retry_after)
    assert harness.route.call_count == 1
    assert harness.waits == []


@pytest.mark.parametrize("path", ["async", "thread"])
async def test_a_backoff_that_does_not_fit_in_what_is_left_stops_at_once(harness: Harness, path: Path) -> None:
    random.seed(7)  # the first full-jitter backoff is then 0.16 s
    harness.route.return_value = httpx.Response(503)
    client = await harness.client(llm_timeout=0.1, llm_max_retries=5)

    with pytest.raises(LLMServerError):
        await chat(client, path)
    assert harness.route.call_count == 1
    assert harness.waits == []


async def test_without_retry_after_the_wait_is_exponential_backoff_with_full_jitter(harness: Harness) -> None:
    random.seed(1234)
    harness.route.return_value = httpx.Response(500)
    client = await harness.client(llm_max_retries=4, llm_timeout=10.0)

    with pytest.raises(LLMServerError):
        await client.chat_async("你好")

    assert len(harness.waits) == 3
    for attempt, wait in enumerate(harness.waits, start=1):
        assert 0.0 <= wait <= 0.5 * 2 ** (attempt - 1)
    assert len(set(harness.waits)) == 3  # jittered, not a fixed schedule


def test_should_retry_transient_faults_only() -> None:
    assert should_retry(LLMTimeout("t"))
    assert should_retry(LLMConnectionError("c"))
    assert should_retry(LLMBlankAnswer("b"))
    for status in (408, 409, 429, 500, 502, 503, 504):
        assert should_retry(LLMUpstreamError("x", status_code=status))
    for status in (400, 401, 402, 403, 404, 422):
        assert not should_retry(LLMUpstreamError("x", status_code=status))
    assert not should_retry(LLMBusy("b"))
    assert not should_retry(ValueError("bug"))


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3", now=lambda: now) == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=lambda: now) == pytest.approx(30.0)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


def test_a_huge_retry_after_is_capped() -> None:
    from tenacity import RetryCallState, wait_fixed

    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.set_exception((LLMRateLimited, LLMRateLimited("x", status_code=429, retry_after=3600.0), None))
    assert wait_retry_after(wait_fixed(1))(state) == MAX_RETRY_AFTER
    state.set_exception((LLMServerError, LLMServerError("x", status_code=500), None))
    assert wait_retry_after(wait_fixed(1))(state) == 1.0


def test_the_retry_deadline_is_read_on_the_injected_clock() -> None:
    clock = ManualClock()
    stop = RetryPolicy(max_attempts=10, budget=5.0).stop(left=5.0, clock=clock)
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 1
    state.upcoming_sleep = 1.0

    assert not stop(state)  # 1 s of waiting fits in the 5 s left
    clock.advance(4.0)
    assert stop(state)  # now it would end exactly at the deadline
