"""Logging is configured once: structlog and stdlib logging come out as the same JSON, with bound context."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog

from xianxia.logs import configure_logging


def test_structlog_and_stdlib_share_one_json_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        structlog.get_logger("tests.logs").info("player_created", player_id="p1", root="天灵根")
        logging.getLogger("tests.stdlib").warning("plain %s message", "stdlib")
        structlog.get_logger("tests.logs").debug("too_quiet")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    events = {line["event"]: line for line in lines}
    assert events["player_created"]["request_id"] == "req-42"
    assert events["player_created"]["root"] == "天灵根" and events["player_created"]["level"] == "info"
    assert events["plain stdlib message"]["request_id"] == "req-42"
    assert events["plain stdlib message"]["logger"] == "tests.stdlib"
    assert "too_quiet" not in events


def test_our_events_are_written_whole_without_a_stdlib_record(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("INFO", json=True)
    records: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.Logger, "handle", lambda self, record: records.append(record))
    structlog.get_logger("xianxia.web.app").info("request", method="POST", status=200)
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert records == []  # no LogRecord, no frame walk, no getpid for our own lines
    # The spacing operators grep for (docs/OPERATIONS.md): `"event": "request"`.
    assert line.startswith('{"method": "POST", "status": 200, "event": "request", "level": "info"')
    assert json.loads(line)["logger"] == "xianxia.web.app"


def test_a_value_the_renderer_cannot_take_gives_a_line_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    looped: dict[str, Any] = {}
    looped["self"] = looped
    structlog.get_logger("xianxia.test").info("odd", looped=looped, keyed={(1, 2): "tuple key"})
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert line["event"] == "odd" and line["looped"].startswith("{'self'") and "log_error" in line
