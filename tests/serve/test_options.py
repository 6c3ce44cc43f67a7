"""The serving settings: defaults that never cut a real client, and the event loop choice."""

from __future__ import annotations

import importlib.util

import pytest

from xianxia.config import Settings
from xianxia.serve.options import ConnectionLimits, hypercorn_config, loop_factory, loop_name


def test_graceful_timeout_outlasts_an_llm_call_unless_set() -> None:
    assert Settings.from_env({}).effective_graceful_timeout == 40.0
    assert Settings.from_env({"LLM_TIMEOUT": "50"}).effective_graceful_timeout == 60.0
    assert Settings.from_env({"XIANXIA_GRACEFUL_TIMEOUT": "5"}).effective_graceful_timeout == 5.0


def test_hypercorn_config_comes_from_the_settings() -> None:
    settings = Settings.from_env({"XIANXIA_KEEP_ALIVE_TIMEOUT": "30", "XIANXIA_MAX_HEADER_BYTES": "8192"})
    config = hypercorn_config(settings)
    assert config.keep_alive_timeout == 30
    assert config.h11_max_incomplete_size == 8192
    assert config.graceful_timeout == settings.effective_graceful_timeout
    assert config.read_timeout is None  # a request waiting on the LLM reads nothing for a long time
    assert config.include_server_header is False


def test_connection_limits_default_to_ten_seconds_before_headers() -> None:
    limits = ConnectionLimits.from_settings(Settings.from_env({}))
    assert (limits.first_request, limits.header, limits.keep_alive) == (10.0, 10.0, 75.0)
    assert limits.max_connections >= 1000  # the benchmark's 1000-connection burst fits one worker


def test_event_loop_choice() -> None:
    assert loop_factory("asyncio") is None
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    assert loop_name(loop_factory("auto")) == ("uvloop" if has_uvloop else "asyncio")
    if has_uvloop:
        assert loop_name(loop_factory("uvloop")) == "uvloop"
    else:
        with pytest.raises(RuntimeError, match="uvloop is not installed"):
            loop_factory("uvloop")


def test_unknown_event_loop_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="XIANXIA_EVENT_LOOP"):
        Settings.from_env({"XIANXIA_EVENT_LOOP": "trio"})
