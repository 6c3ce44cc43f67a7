"""The retry policy in one place: what is retried (`should_retry`), how long to wait (`wait_retry_after`), when to stop.

One call, its retries and the waits between them all fit in `LLM_TIMEOUT`: each attempt gets what is left of it,
and a wait that would not end in time stops the retrying at once.

Like openai-python's `_should_retry` / `_calculate_retry_timeout`, expressed as tenacity's `retry=`, `wait=`, `stop=`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from xianxia.config import Settings
from xianxia.llm.clock import Clock, monotonic
from xianxia.llm.errors import (
    LLMBlankAnswer,
    LLMConnectionError,
    LLMTimeout,
    LLMUpstreamError,
    error_type,
)

log = structlog.get_logger(__name__)

#: Statuses worth another try besides 5xx: request timeout, conflict (lock contention), rate limit.
RETRYABLE_STATUS_CODES = frozenset({408, 409, 429})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
#: A Retry-After longer than this is not waited for in full (the caller has a budget too).
MAX_RETRY_AFTER = 60.0

OnRetry = Callable[[str, RetryCallState], None]


def should_retry(exc: BaseException) -> bool:
    """Transient faults are retried; a request the upstream refuses (400/401/402/403/422, other 4xx) is not."""
    if isinstance(exc, LLMTimeout | LLMConnectionError | LLMBlankAnswer):
        return True
    if isinstance(exc, LLMUpstreamError):
        return exc.status_code in RETRYABLE_STATUS_CODES or exc.status_code >= 500
    return False


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


class wait_retry_after(wait_base):  # named like tenacity's own wait strategies
    """Wait what the upstream's Retry-After asks (capped), else the fallback backoff."""

    def __init__(self, fallback: wait_base, *, cap: float = MAX_RETRY_AFTER) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(exc, LLMUpstreamError) and exc.retry_after is not None:
            return min(exc.retry_after, self.cap)
        return self.fallback(retry_state)


class stop_before_deadline(stop_base):  # named like tenacity's own stop strategies
    """Stop when the next wait would not end before `deadline` on `clock` (tenacity's own reads the wall clock)."""

    def __init__(self, deadline: float, clock: Clock) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, all of them and every wait between them within one total budget (`LLM_TIMEOUT`)."""

    max_attempts: int
    budget: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(max_attempts=settings.llm_max_retries, budget=settings.llm_timeout)

    def stop(self, left: float, clock: Clock = monotonic) -> stop_base:
        """Stop after the last attempt, or at once when the next wait would not end within the `left` seconds."""
        return stop_after_attempt(self.max_attempts) | stop_before_deadline(clock() + left, clock)

    def wait(self) -> wait_base:
        # Full jitter (AWS's "exponential backoff and jitter"): 0..0.5 s, 0..1 s, 0..2 s, ... capped at 8 s.
        return wait_retry_after(wait_random_exponential(multiplier=INITIAL_BACKOFF, max=MAX_BACKOFF))

    def async_retrying(
        self,
        kind: str,
        *,
        left: float,
        sleep: Callable[[float], Awaitable[None]],
        on_retry: OnRetry | None = None,
        clock: Clock = monotonic,
    ) -> AsyncRetrying:
        """The async retry loop for one call of `kind` that has `left` seconds of its budget."""
        return AsyncRetrying(
            retry=retry_if_exception(should_retry),
            wait=self.wait(),
            stop=self.stop(left, clock),
            sleep=sleep,
            before_sleep=_before_sleep(kind, on_retry),
            reraise=True,
        )

    def retrying(
        self,
        kind: str,
        *,
        left: float,
        sleep: Callable[[float], None],
        on_retry: OnRetry | None = None,
        clock: Clock = monotonic,
    ) -> Retrying:
        """The synchronous retry loop for one call of `kind` that has `left` seconds of its budget."""
        return Retrying(
            retry=retry_if_exception(should_retry),
            wait=self.wait(),
            stop=self.stop(left, clock),
            sleep=sleep,
            before_sleep=_before_sleep(kind, on_retry),
            reraise=True,
        )


def _before_sleep(kind: str, on_retry: OnRetry | None) -> Callable[[RetryCallState], None]:
    def report(retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        reason = error_type(exc) if exc is not None else "unknown"
        status = exc.status_code if isinstance(exc, LLMUpstreamError) else None
        wait = retry_state.upcoming_sleep
        log.warning("llm_retry", kind=kind, attempt=retry_state.attempt_number, reason=reason, status=status, wait=wait)
        if on_retry is not None:
            on_retry(reason, retry_state)

    return report
