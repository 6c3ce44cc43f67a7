"""Typed settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

LLMMode = Literal["async", "sync", "off"]
LLM_MODES: tuple[LLMMode, ...] = ("async", "sync", "off")

DEFAULT_DATABASE_URL = "sqlite:///data/xianxia.db"


class Settings(BaseModel):
    """Everything the app reads from its environment, validated once."""

    model_config = {"frozen": True}

    database_url: str = DEFAULT_DATABASE_URL
    world_dir: Path | None = None
    admin_token: str | None = None
    llm_token: str | None = None  # when set, the /api/llm routes need it as a bearer token

    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_text_chars: int = Field(500, ge=1)
    log_json: bool | None = None  # None: JSON when stderr is not a terminal
    log_level: str = "INFO"

    deepseek_api_key: str | None = None
    deepseek_base_url: str = "https://api.deepseek.com"
    deepseek_model: str = "deepseek-chat"
    llm_mode: LLMMode = "async"
    llm_max_workers: int = Field(16, ge=1)
    llm_timeout: float = Field(30.0, gt=0)
    llm_connect_timeout: float = Field(5.0, gt=0)
    llm_max_connections: int = Field(1024, ge=1)
    llm_max_concurrency: int = Field(1024, ge=1)
    llm_max_retries: int = Field(3, ge=1, le=10)
    llm_parse_budget: float = Field(8.0, gt=0)  # seconds an action waits for the LLM parse
    llm_per_player_inflight: int = Field(2, ge=1)
    llm_breaker_failures: int = Field(5, ge=1)
    llm_breaker_cooldown: float = Field(30.0, gt=0)
    llm_chat_max_chars: int = Field(4000, ge=1)
    llm_batch_max: int = Field(100, ge=1, le=1000)
    mode_refresh_seconds: float = Field(0.5, gt=0)
    task_heartbeat_seconds: float = Field(5.0, gt=0)
    task_stale_seconds: float = Field(30.0, gt=0)
    task_max_running: int = Field(64, ge=1)

    @field_validator("admin_token", "llm_token", "deepseek_api_key")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def effective_llm_mode(self) -> LLMMode:
        """The start-up mode: without an API key the LLM is off."""
        return self.llm_mode if self.deepseek_api_key else "off"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (os.environ by default)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        simple = {
            "XIANXIA_DATABASE_URL": "database_url",
            "XIANXIA_WORLD_DIR": "world_dir",
            "XIANXIA_ADMIN_TOKEN": "admin_token",
            "XIANXIA_LLM_TOKEN": "llm_token",
            "XIANXIA_MAX_BODY_BYTES": "max_body_bytes",
            "XIANXIA_MAX_TEXT_CHARS": "max_text_chars",
            "XIANXIA_LOG_LEVEL": "log_level",
            "DEEPSEEK_API_KEY": "deepseek_api_key",
            "DEEPSEEK_BASE_URL": "deepseek_base_url",
            "DEEPSEEK_MODEL": "deepseek_model",
            "LLM_MAX_WORKERS": "llm_max_workers",
            "LLM_TIMEOUT": "llm_timeout",
            "LLM_CONNECT_TIMEOUT": "llm_connect_timeout",
            "LLM_MAX_CONNECTIONS": "llm_max_connections",
            "LLM_MAX_CONCURRENCY": "llm_max_concurrency",
            "LLM_MAX_RETRIES": "llm_max_retries",
            "LLM_PARSE_BUDGET": "llm_parse_budget",
            "LLM_PER_PLAYER_INFLIGHT": "llm_per_player_inflight",
            "LLM_BREAKER_FAILURES": "llm_breaker_failures",
            "LLM_BREAKER_COOLDOWN": "llm_breaker_cooldown",
            "XIANXIA_MODE_REFRESH_SECONDS": "mode_refresh_seconds",
        }
        for name, field in simple.items():
            if env.get(name, "") != "":
                values[field] = env[name]
        if env.get("XIANXIA_LOG_JSON", "") != "":
            values["log_json"] = env["XIANXIA_LOG_JSON"].lower() in ("1", "true", "yes")
        if env.get("XIANXIA_LLM_MODE", "") != "":
            values["llm_mode"] = env["XIANXIA_LLM_MODE"].strip().lower()
        elif env.get("USE_ASYNC_DEEPSEEK", "") != "":
            values["llm_mode"] = "async" if env["USE_ASYNC_DEEPSEEK"].strip() == "1" else "sync"
        return cls.model_validate(values)
