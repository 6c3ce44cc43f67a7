"""One label per LLM error: `error_type` for metrics and logs, `error_code` (the same, prefixed) for the API."""

from __future__ import annotations

import pytest

from xianxia.llm import errors
from xianxia.llm.errors import (
    InvalidLLMOutput,
    LLMAuthError,
    LLMBadAnswer,
    LLMBlankAnswer,
    LLMBusy,
    LLMCircuitOpen,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    LLMUpstreamError,
    error_code,
    error_type,
)

LABELS: list[tuple[LLMError, str]] = [
    (LLMError("x"), "error"),
    (LLMUnavailable("off"), "unavailable"),
    (LLMTimeout("slow"), "timeout"),
    (LLMConnectionError("refused"), "connection_error"),
    (LLMUpstreamError("409", status_code=409), "upstream_error"),
    (LLMRateLimited("429", status_code=429), "rate_limited"),
    (LLMServerError("503", status_code=503), "server_error"),
    (LLMAuthError("402", status_code=402), "auth"),
    (LLMRequestRejected("400", status_code=400), "request_rejected"),
    (LLMCircuitOpen("open"), "circuit_open"),
    (LLMBusy("busy"), "busy"),
    (LLMBadAnswer("bad"), "bad_answer"),
    (LLMBlankAnswer("blank"), "blank_answer"),
    (InvalidLLMOutput("invalid"), "invalid_output"),
]


@pytest.mark.parametrize(("exc", "label"), LABELS)
def test_every_error_has_one_label_and_its_code_is_the_label_prefixed(exc: LLMError, label: str) -> None:
    assert error_type(exc) == label
    assert error_code(exc) == f"llm_{label}"


def test_the_table_covers_every_error_class_in_the_module() -> None:
    classes = {value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, LLMError)}
    assert classes == {type(exc) for exc, _label in LABELS}


def test_an_unlisted_subclass_takes_its_parents_label() -> None:
    class LLMOverloaded(LLMServerError):
        pass

    assert error_code(LLMOverloaded("529", status_code=529)) == "llm_server_error"
    assert error_type(ValueError("a bug")) == "unexpected"
