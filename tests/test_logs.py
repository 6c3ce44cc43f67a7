"""Logging is configured once: structlog and stdlib logging come out as the same JSON, with bound context."""

from __future__ import annotations

import json
import logging

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
