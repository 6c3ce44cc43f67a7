"""The circuit breaker: opens after consecutive failures, fails fast, one half-open probe decides."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.llm.conftest import Harness, ManualClock, answer
from xianxia.llm.breaker import CircuitBreaker, CircuitState
from xianxia.llm.errors import LLMCircuitOpen, LLMRequestRejected, LLMServerError


def state_of(circuit: CircuitBreaker) -> str:
    """Read afresh each time (a property, not a value mypy may narrow)."""
    return circuit.state


def breaker(clock: ManualClock, states: list[CircuitState]) -> CircuitBreaker:
    return CircuitBreaker(failures=3, cooldown=10.0, clock=clock, on_change=states.append)


def trip(circuit: CircuitBreaker, clock: ManualClock) -> None:
    """Open the circuit with three failed calls and let the cooldown pass: it is half-open."""
    for _ in range(3):
        circuit.failure(circuit.acquire())
    clock.advance(10.0)


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    for _ in range(2):
        circuit.failure(circuit.acquire())
    assert state_of(circuit) == "closed"
    circuit.failure(circuit.acquire())

    assert state_of(circuit) == "open"
    assert states == ["open"]
    with pytest.raises(LLMCircuitOpen):
        circuit.acquire()


def test_a_success_resets_the_consecutive_count() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        admission = circuit.acquire()
        if outcome == "ok":
            circuit.success(admission)
        else:
            circuit.failure(admission)
    assert state_of(circuit) == "closed"


def test_after_the_cooldown_one_probe_is_let_through_and_its_success_closes() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    for _ in range(3):
        circuit.failure(circuit.acquire())
    clock.advance(9.9)
    assert state_of(circuit) == "open"
    clock.advance(0.1)
    assert state_of(circuit) == "half_open"

    probe = circuit.acquire()
    assert probe.probe
    with pytest.raises(LLMCircuitOpen):
        circuit.acquire()  # only one probe at a time
    circuit.success(probe)

    assert state_of(circuit) == "closed"
    assert not circuit.acquire().probe
    assert states == ["open", "half_open", "closed"]


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    trip(circuit, clock)
    probe = circuit.acquire()
    assert probe.probe
    circuit.failure(probe)

    assert state_of(circuit) == "open"
    with pytest.raises(LLMCircuitOpen):
        circuit.acquire()
    clock.advance(10.0)
    assert state_of(circuit) == "half_open"
    assert states == ["open", "half_open", "open"]


def test_a_probe_without_a_verdict_frees_the_probe_slot() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    trip(circuit, clock)
    circuit.release(circuit.acquire())  # e.g. the probe's caller was cancelled

    assert circuit.acquire().probe


def test_a_late_failure_of_a_call_let_in_while_closed_cannot_reopen_a_half_open_circuit() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    straggler = circuit.acquire()  # let in while closed, still running when the circuit opens
    trip(circuit, clock)
    probe = circuit.acquire()

    circuit.failure(straggler)
    assert state_of(circuit) == "half_open"
    with pytest.raises(LLMCircuitOpen):
        circuit.acquire()  # the straggler did not take over the probe's place
    circuit.success(probe)

    assert state_of(circuit) == "closed"
    assert states == ["open", "half_open", "closed"]


def test_a_late_success_of_a_call_let_in_while_closed_cannot_close_a_half_open_circuit() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    straggler = circuit.acquire()
    trip(circuit, clock)
    probe = circuit.acquire()

    circuit.success(straggler)
    assert state_of(circuit) == "half_open"
    circuit.failure(probe)

    assert state_of(circuit) == "open"
    assert states == ["open", "half_open", "open"]


def test_a_late_result_while_open_changes_nothing() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    straggler = circuit.acquire()
    for _ in range(3):
        circuit.failure(circuit.acquire())

    circuit.success(straggler)
    assert state_of(circuit) == "open"
    assert states == ["open"]


def test_a_stale_probe_cannot_decide_a_later_half_open_period() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    trip(circuit, clock)
    first = circuit.acquire()
    circuit.failure(first)  # reopens
    clock.advance(10.0)
    second = circuit.acquire()

    circuit.success(first)  # a duplicate report of the first probe's generation
    assert state_of(circuit) == "half_open"
    circuit.success(second)
    assert state_of(circuit) == "closed"


async def test_the_client_fails_fast_when_open_and_recovers_through_a_probe(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(503)
    client = await harness.client(llm_breaker_failures=2, llm_breaker_cooldown=30.0, llm_max_retries=1)

    for _ in range(2):
        with pytest.raises(LLMServerError):
            await client.chat_async("你好")
    assert str(client.circuit_state) == "open"

    with pytest.raises(LLMCircuitOpen):
        await client.chat_async("你好")
    with pytest.raises(LLMCircuitOpen):
        await client.chat_in_thread("你好")
    assert harness.route.call_count == 2  # failing fast: no request
    assert ("chat", "circuit_open") in harness.observer.requests

    harness.clock.advance(30.0)
    assert str(client.circuit_state) == "half_open"
    harness.route.return_value = answer("恢复")
    assert await client.chat_async("你好") == {"text": "恢复"}
    assert str(client.circuit_state) == "closed"
    assert harness.observer.circuits == ["open", "half_open", "closed"]


async def test_a_failed_probe_through_the_client_reopens_the_circuit(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(500)
    client = await harness.client(llm_breaker_failures=1, llm_breaker_cooldown=5.0, llm_max_retries=1)
    with pytest.raises(LLMServerError):
        await client.chat_async("你好")
    harness.clock.advance(5.0)

    with pytest.raises(LLMServerError):
        await client.chat_async("你好")
    assert str(client.circuit_state) == "open"
    assert harness.route.call_count == 2


async def test_refused_requests_do_not_open_the_circuit(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(400)
    client = await harness.client(llm_breaker_failures=2)
    for _ in range(4):
        with pytest.raises(LLMRequestRejected):
            await client.chat_async("你好")
    assert str(client.circuit_state) == "closed"


async def test_a_cancelled_probe_lets_the_next_call_probe(harness: Harness) -> None:
    harness.route.return_value = httpx.Response(500)
    client = await harness.client(llm_breaker_failures=1, llm_breaker_cooldown=5.0, llm_max_retries=1)
    with pytest.raises(LLMServerError):
        await client.chat_async("你好")
    harness.clock.advance(5.0)

    entered = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    harness.route.side_effect = hang
    probe = asyncio.create_task(client.chat_async("你好"))
    await entered.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    harness.route.side_effect = None
    harness.route.return_value = answer("好")
    assert await client.chat_async("你好") == {"text": "好"}
    assert str(client.circuit_state) == "closed"


async def test_through_the_client_a_call_that_fails_late_does_not_decide_the_half_open_circuit(
    harness: Harness,
) -> None:
    straggler_entered, straggler_release = asyncio.Event(), asyncio.Event()
    probe_entered, probe_release = asyncio.Event(), asyncio.Event()

    async def upstream(request: httpx.Request) -> httpx.Response:
        said = json.loads(request.content)["messages"][-1]["content"]
        if said == "straggler":
            straggler_entered.set()
            await straggler_release.wait()
            return httpx.Response(500)
        if said == "probe":
            probe_entered.set()
            await probe_release.wait()
            return answer("恢复")
        return httpx.Response(503)

    harness.route.side_effect = upstream
    client = await harness.client(llm_breaker_failures=2, llm_breaker_cooldown=30.0, llm_max_retries=1)
    straggler = asyncio.create_task(client.chat_async("straggler"))  # let in while the circuit is closed
    await straggler_entered.wait()
    for _ in range(2):
        with pytest.raises(LLMServerError):
            await client.chat_async("fail")
    harness.clock.advance(30.0)
    probe = asyncio.create_task(client.chat_async("probe"))
    await probe_entered.wait()

    straggler_release.set()
    with pytest.raises(LLMServerError):
        await straggler
    assert str(client.circuit_state) == "half_open"
    with pytest.raises(LLMCircuitOpen):
        await client.chat_async("fail")  # the probe is still the probe

    probe_release.set()
    assert await probe == {"text": "恢复"}
    assert str(client.circuit_state) == "closed"
    assert harness.observer.circuits == ["open", "half_open", "closed"]


def test_a_reset_closes_an_open_circuit_and_restarts_the_count() -> None:
    clock, states = ManualClock(), list[CircuitState]()
    circuit = breaker(clock, states)
    for _ in range(3):
        circuit.failure(circuit.acquire())
    assert state_of(circuit) == "open"
    circuit.reset()
    assert state_of(circuit) == "closed" and states == ["open", "closed"]
    circuit.failure(circuit.acquire())
    circuit.failure(circuit.acquire())
    assert state_of(circuit) == "closed"  # the failures before the reset are forgotten
    circuit.reset()
    assert states == ["open", "closed"]  # closed already: no change to report
