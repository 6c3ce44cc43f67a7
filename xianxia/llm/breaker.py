"""A circuit breaker: after repeated failures, fail fast for a cooldown, then let one probe decide."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from xianxia.llm.errors import LLMCircuitOpen

log = structlog.get_logger(__name__)

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Admission:
    """A call's ticket: the breaker generation it was let in under, and whether it is the half-open probe."""

    generation: int
    probe: bool = False


class CircuitBreaker:
    """Closed → open after `failures` consecutive failed calls → half-open after `cooldown` → one probe decides.

    Every change of state starts a new generation. A call reports its result with the `Admission` it was given,
    so a call let in before the circuit opened and ending late is counted but cannot decide the half-open state:
    only the probe's own result can. Thread-safe: the async path and the thread-pool path share one breaker.
    """

    def __init__(
        self,
        *,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] | None = None,
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state: CircuitState = "closed"
        self._generation = 0
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        """The state now; an open circuit whose cooldown has passed reads as half-open."""
        with self._lock:
            if self._state == "open" and self._cooldown_over():
                return "half_open"
            return self._state

    def acquire(self) -> Admission:
        """Let a call in or raise `LLMCircuitOpen`; the admission says whether the call is the half-open probe."""
        with self._lock:
            if self._state == "open":
                if not self._cooldown_over():
                    raise LLMCircuitOpen(f"circuit open after {self._threshold} consecutive failures")
                self._set("half_open")
            if self._state == "half_open":
                if self._probing:
                    raise LLMCircuitOpen("circuit half-open: a probe is already in flight")
                self._probing = True
                return Admission(self._generation, probe=True)
            return Admission(self._generation)

    def success(self, admission: Admission) -> None:
        """A call succeeded: a closed circuit's failure count restarts, the probe's success closes the circuit."""
        with self._lock:
            if self._is_probe(admission):
                self._probing = False
                self._failures = 0
                self._set("closed")
            elif self._state == "closed":
                self._failures = 0

    def failure(self, admission: Admission) -> None:
        """A call failed after its retries: count it; the threshold opens a closed circuit, a failed probe reopens."""
        with self._lock:
            self._failures += 1
            if self._is_probe(admission):
                self._probing = False
                self._open()
            elif self._state == "closed" and self._failures >= self._threshold:
                self._open()

    def release(self, admission: Admission) -> None:
        """A call ended without a verdict (cancelled, or refused for a reason that says nothing of the upstream)."""
        with self._lock:
            if self._is_probe(admission):
                self._probing = False

    def reset(self) -> None:
        """Close the circuit now (an operator raised the LLM mode again: the cause is said to be fixed)."""
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state != "closed":
                self._set("closed")

    def _is_probe(self, admission: Admission) -> bool:
        # Only the probe let in under the current half-open generation decides; anything older is stale.
        return admission.probe and admission.generation == self._generation and self._state == "half_open"

    def _cooldown_over(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._set("open")

    def _set(self, state: CircuitState) -> None:
        old, self._state = self._state, state
        self._generation += 1
        report = log.warning if state == "open" else log.info
        report("llm_circuit", old=old, new=state, failures=self._failures)
        if self._on_change is not None:
            self._on_change(state)
