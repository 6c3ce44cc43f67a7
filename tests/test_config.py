"""Settings come from the environment, once, with the documented defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from xianxia.config import DEFAULT_DATABASE_URL, Settings


def test_defaults_play_without_a_key() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.deepseek_base_url == "https://api.deepseek.com"
    assert settings.deepseek_model == "deepseek-chat"
    assert settings.llm_timeout == 30 and settings.llm_connect_timeout == 5
    assert settings.max_body_bytes == 64 * 1024
    assert settings.effective_llm_mode == "off"


def test_mode_from_env_and_legacy_switch() -> None:
    key = {"DEEPSEEK_API_KEY": "sk-test"}
    assert Settings.from_env({**key, "XIANXIA_LLM_MODE": "SYNC"}).effective_llm_mode == "sync"
    assert Settings.from_env({**key, "USE_ASYNC_DEEPSEEK": "0"}).effective_llm_mode == "sync"
    assert Settings.from_env({**key, "USE_ASYNC_DEEPSEEK": "1"}).effective_llm_mode == "async"
    assert Settings.from_env({**key, "XIANXIA_LLM_MODE": "off", "USE_ASYNC_DEEPSEEK": "1"}).llm_mode == "off"
    assert Settings.from_env({"XIANXIA_LLM_MODE": "async"}).effective_llm_mode == "off"


def test_numbers_are_parsed_and_checked() -> None:
    settings = Settings.from_env({"LLM_MAX_WORKERS": "5", "LLM_TIMEOUT": "2.5", "XIANXIA_ADMIN_TOKEN": ""})
    assert settings.llm_max_workers == 5 and settings.llm_timeout == 2.5
    assert settings.admin_token is None
    with pytest.raises(ValidationError, match="llm_max_workers"):
        Settings.from_env({"LLM_MAX_WORKERS": "0"})
    with pytest.raises(ValidationError, match="llm_mode"):
        Settings.from_env({"XIANXIA_LLM_MODE": "turbo"})
