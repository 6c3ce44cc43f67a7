"""The LLM client's errors, each documented in one line (as httpx/_exceptions.py does).

```
LLMError
├── LLMUnavailable        the LLM is off: no API key, mode off, client not started
├── LLMTimeout            an attempt passed its deadline
├── LLMConnectionError    the upstream could not be reached or dropped the connection
├── LLMUpstreamError      the upstream answered with an error status (status_code)
│   ├── LLMRateLimited    429
│   ├── LLMServerError    5xx
│   ├── LLMAuthError      401/402: fatal, the LLM is switched off
│   └── LLMRequestRejected  400, 403, 422 and other 4xx: our request is at fault
├── LLMCircuitOpen        the circuit breaker is open: failing fast
├── LLMBusy               no concurrency slot in time, or the player's in-flight cap is reached
└── LLMBadAnswer          the answer is unusable
    ├── LLMBlankAnswer    blank content (DeepSeek under load): retried
    └── InvalidLLMOutput  the answer fails validation against the world
```
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class for every LLM client error."""


class LLMUnavailable(LLMError):
    """The LLM cannot be used: no API key, mode off, or the client is not started."""


class LLMTimeout(LLMError):
    """An attempt did not finish within its deadline."""


class LLMConnectionError(LLMError):
    """The upstream could not be reached, or the connection broke mid-answer."""


class LLMUpstreamError(LLMError):
    """The upstream answered with an error status."""

    def __init__(self, message: str, *, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class LLMRateLimited(LLMUpstreamError):
    """429: the upstream asks us to slow down."""


class LLMServerError(LLMUpstreamError):
    """5xx: the upstream failed."""


class LLMAuthError(LLMUpstreamError):
    """401/402: bad API key or no balance; fatal until an operator acts."""


class LLMRequestRejected(LLMUpstreamError):
    """400, 403, 422 or another 4xx: the request itself is refused, retrying cannot help."""


class LLMCircuitOpen(LLMError):
    """The circuit breaker is open after repeated failures: failing fast without a request."""


class LLMBusy(LLMError):
    """No concurrency slot within the deadline, or the player already has too many calls in flight."""


class LLMBadAnswer(LLMError):
    """The upstream answered 200 but the answer is unusable."""


class LLMBlankAnswer(LLMBadAnswer):
    """The answer's content is empty or whitespace only."""


class InvalidLLMOutput(LLMBadAnswer):
    """The answer is not a valid intent for this world."""


#: Every error's label; a subclass not listed takes its nearest listed ancestor's.
_LABELS: dict[type[BaseException], str] = {
    LLMError: "error",
    LLMUnavailable: "unavailable",
    LLMTimeout: "timeout",
    LLMConnectionError: "connection_error",
    LLMUpstreamError: "upstream_error",
    LLMRateLimited: "rate_limited",
    LLMServerError: "server_error",
    LLMAuthError: "auth",
    LLMRequestRejected: "request_rejected",
    LLMCircuitOpen: "circuit_open",
    LLMBusy: "busy",
    LLMBadAnswer: "bad_answer",
    LLMBlankAnswer: "blank_answer",
    InvalidLLMOutput: "invalid_output",
}


def error_type(exc: BaseException) -> str:
    """The error's short snake_case label for metrics and logs: `LLMRateLimited` -> `rate_limited`."""
    for cls in type(exc).__mro__:
        if cls in _LABELS:
            return _LABELS[cls]
    return "unexpected"


def error_code(exc: BaseException) -> str:
    """The error's code in the API's `{"error": {"code"}}`: `LLMRateLimited` -> `llm_rate_limited`."""
    return "llm_" + error_type(exc)
