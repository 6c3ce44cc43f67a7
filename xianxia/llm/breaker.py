"""A circuit breaker: after repeated failures, fail fast for a cooldown, then let one probe decide."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import structlog

from xianxia.llm.errors import LLMCircuitOpen

log = structlog.get_logger(__name__)

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed → open after `failures` consecutive failed calls → half-open after `cooldown` → one probe decides.

    Thread-safe: the async path and the thread-pool path share one breaker.
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

    def acquire(self) -> bool:
        """Allow a call or raise `LLMCircuitOpen`; True when the call is the half-open probe."""
        with self._lock:
            if self._state == "open":
                if not self._cooldown_over():
                    raise LLMCircuitOpen(f"circuit open after {self._threshold} consecutive failures")
                self._set("half_open")
            if self._state == "half_open":
                if self._probing:
                    raise LLMCircuitOpen("circuit half-open: a probe is already in flight")
                self._probing = True
                return True
            return False

    def success(self) -> None:
        """A call succeeded: the circuit closes."""
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state != "closed":
                self._set("closed")

    def failure(self) -> None:
        """A call failed after its retries: count it, open the circuit at the threshold or on a failed probe."""
        with self._lock:
            self._failures += 1
            was_probe = self._probing
            self._probing = False
            if was_probe or (self._state == "closed" and self._failures >= self._threshold):
                self._opened_at = self._clock()
                self._set("open")

    def release(self, probe: bool) -> None:
        """A call ended without a verdict (cancelled, or refused for a reason that says nothing of the upstream)."""
        if probe:
            with self._lock:
                self._probing = False

    def _cooldown_over(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown

    def _set(self, state: CircuitState) -> None:
        old, self._state = self._state, state
        report = log.warning if state == "open" else log.info
        report("llm_circuit", old=old, new=state, failures=self._failures)
        if self._on_change is not None:
            self._on_change(state)
