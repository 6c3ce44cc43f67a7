"""Typed settings, read once from the environment (pydantic-settings); each field names its variable."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import limits
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

LLMMode = Literal["async", "sync", "off"]
LLM_MODES: tuple[LLMMode, ...] = ("async", "sync", "off")
EventLoop = Literal["auto", "uvloop", "asyncio"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DATABASE_URL = "sqlite:///data/xianxia.db"

_TRUE = frozenset({"1", "true", "yes", "on"})


class Settings(BaseSettings):
    """Everything the app reads from its environment, validated once.

    `Settings()` reads `os.environ`; keyword arguments (by field name) win over it.
    Every field has a variable, listed in README's configuration table (a test checks both directions).
    """

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        env_ignore_empty=True,  # VAR= means "unset", as the shell scripts this replaced assumed
        populate_by_name=True,
        extra="ignore",
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="XIANXIA_DATABASE_URL")
    world_dir: Path | None = Field(None, validation_alias="XIANXIA_WORLD_DIR")
    admin_token: str | None = Field(None, validation_alias="XIANXIA_ADMIN_TOKEN")
    # When set, the /api/llm routes need it as a bearer token.
    llm_token: str | None = Field(None, validation_alias="XIANXIA_LLM_TOKEN")
    # host:port of a listener of its own (in the supervisor) serving /metrics without a credential;
    # on the main port /metrics always needs the admin token.
    metrics_bind: str | None = Field(None, validation_alias="XIANXIA_METRICS_BIND")

    max_body_bytes: int = Field(64 * 1024, ge=1024, validation_alias="XIANXIA_MAX_BODY_BYTES")
    max_text_chars: int = Field(500, ge=1, validation_alias="XIANXIA_MAX_TEXT_CHARS")
    log_json: bool | None = Field(None, validation_alias="XIANXIA_LOG_JSON")  # None: JSON when stderr is no terminal
    log_level: str = Field("INFO", validation_alias="XIANXIA_LOG_LEVEL")

    deepseek_api_key: str | None = Field(None, validation_alias="DEEPSEEK_API_KEY")
    deepseek_base_url: str = Field("https://api.deepseek.com", validation_alias="DEEPSEEK_BASE_URL")
    deepseek_model: str = Field("deepseek-chat", validation_alias="DEEPSEEK_MODEL")
    llm_mode: LLMMode = Field("async", validation_alias="XIANXIA_LLM_MODE")
    # The old switch (1: async, anything else: sync); XIANXIA_LLM_MODE wins when both are set.
    use_async_deepseek: str | None = Field(None, validation_alias="USE_ASYNC_DEEPSEEK", exclude=True, repr=False)
    # The Flask service's own flag (true/1/yes/on: async, anything else: sync); the two above win over it.
    flask_async_enabled: str | None = Field(None, validation_alias="FLASK_ASYNC_ENABLED", exclude=True, repr=False)
    llm_max_workers: int = Field(16, ge=1, validation_alias="LLM_MAX_WORKERS")
    llm_timeout: float = Field(30.0, gt=0, validation_alias="LLM_TIMEOUT")
    llm_connect_timeout: float = Field(5.0, gt=0, validation_alias="LLM_CONNECT_TIMEOUT")
    # A streamed answer's limits: seconds to its first token, and between tokens (keep-alive lines do not count).
    llm_first_token_timeout: float = Field(10.0, gt=0, validation_alias="LLM_FIRST_TOKEN_TIMEOUT")
    llm_idle_timeout: float = Field(10.0, gt=0, validation_alias="LLM_IDLE_TIMEOUT")
    llm_max_connections: int = Field(1024, ge=1, validation_alias="LLM_MAX_CONNECTIONS")
    llm_max_concurrency: int = Field(1024, ge=1, validation_alias="LLM_MAX_CONCURRENCY")
    llm_max_retries: int = Field(3, ge=1, le=10, validation_alias="LLM_MAX_RETRIES")
    # Seconds an action waits for the LLM parse.
    llm_parse_budget: float = Field(8.0, gt=0, validation_alias="LLM_PARSE_BUDGET")
    llm_per_player_inflight: int = Field(2, ge=1, validation_alias="LLM_PER_PLAYER_INFLIGHT")
    llm_breaker_failures: int = Field(5, ge=1, validation_alias="LLM_BREAKER_FAILURES")
    llm_breaker_cooldown: float = Field(30.0, gt=0, validation_alias="LLM_BREAKER_COOLDOWN")
    llm_chat_max_chars: int = Field(4000, ge=1, validation_alias="LLM_CHAT_MAX_CHARS")
    llm_batch_max: int = Field(100, ge=1, le=1000, validation_alias="LLM_BATCH_MAX")
    # The automatic rollback: the LLM error rate (per call, after retries) or p95 over the window, summed over every
    # worker and instance, past its limit switches the mode off everywhere until an operator raises it again.
    rollback: bool = Field(True, validation_alias="XIANXIA_ROLLBACK")  # off: only the 401/402 kill switch acts
    rollback_window_seconds: float = Field(60.0, gt=0, validation_alias="XIANXIA_ROLLBACK_WINDOW_SECONDS")
    rollback_min_calls: int = Field(20, ge=1, validation_alias="XIANXIA_ROLLBACK_MIN_CALLS")  # fewer: not judged
    rollback_error_rate: float = Field(0.10, gt=0, le=1, validation_alias="XIANXIA_ROLLBACK_ERROR_RATE")
    rollback_p95_seconds: float = Field(5.0, gt=0, validation_alias="XIANXIA_ROLLBACK_P95_SECONDS")
    # How often each worker writes its counts to the store and judges the window.
    rollback_interval_seconds: float = Field(1.0, gt=0, validation_alias="XIANXIA_ROLLBACK_INTERVAL_SECONDS")
    mode_refresh_seconds: float = Field(0.5, gt=0, validation_alias="XIANXIA_MODE_REFRESH_SECONDS")
    task_heartbeat_seconds: float = Field(5.0, gt=0, validation_alias="XIANXIA_TASK_HEARTBEAT_SECONDS")
    task_stale_seconds: float = Field(30.0, gt=0, validation_alias="XIANXIA_TASK_STALE_SECONDS")
    task_max_running: int = Field(64, ge=1, validation_alias="XIANXIA_TASK_MAX_RUNNING")
    # Retention (seconds): idempotency answers and finished tasks are forgotten once this old; the action log stays.
    idempotency_ttl: float = Field(24 * 3600.0, gt=0, validation_alias="XIANXIA_IDEMPOTENCY_TTL")
    task_retention: float = Field(7 * 24 * 3600.0, gt=0, validation_alias="XIANXIA_TASK_RETENTION")
    retention_interval: float = Field(600.0, gt=0, validation_alias="XIANXIA_RETENTION_INTERVAL")
    # redis://…: batch tasks go to Celery workers (`make worker`), Redis as broker and result backend; unset: here.
    task_broker: str | None = Field(None, validation_alias="XIANXIA_TASK_BROKER")
    task_queue: str = Field("xianxia-tasks", min_length=1, max_length=128, validation_alias="XIANXIA_TASK_QUEUE")
    # Seconds before Redis hands a task whose worker vanished (machine lost) to another worker.
    task_visibility_timeout: float = Field(300.0, ge=1, validation_alias="XIANXIA_TASK_VISIBILITY_TIMEOUT")

    # Serving (xianxia/serve): how workers accept, time out and drain connections.
    # Seconds a draining worker lets accepted requests finish; unset: LLM_TIMEOUT + 10, so an LLM call can end.
    graceful_timeout: float | None = Field(None, gt=0, validation_alias="XIANXIA_GRACEFUL_TIMEOUT")
    # auto: uvloop where it is installed (Linux), else asyncio.
    event_loop: EventLoop = Field("auto", validation_alias="XIANXIA_EVENT_LOOP")
    backlog: int = Field(2048, ge=1, validation_alias="XIANXIA_BACKLOG")
    # From a request's first byte to its last header (a client trickling its headers is cut).
    header_timeout: float = Field(10.0, gt=0, validation_alias="XIANXIA_HEADER_TIMEOUT")
    # A new connection that sends nothing is closed after this long.
    first_request_timeout: float = Field(10.0, gt=0, validation_alias="XIANXIA_FIRST_REQUEST_TIMEOUT")
    keep_alive_timeout: float = Field(75.0, gt=0, validation_alias="XIANXIA_KEEP_ALIVE_TIMEOUT")
    # While draining, an idle connection may still deliver a request already on its way.
    drain_grace: float = Field(1.0, ge=0, validation_alias="XIANXIA_DRAIN_GRACE")
    # Open connections per worker; beyond it new ones wait in the kernel's backlog.
    worker_connections: int = Field(2048, ge=1, validation_alias="XIANXIA_WORKER_CONNECTIONS")
    max_header_bytes: int = Field(16 * 1024, ge=1024, validation_alias="XIANXIA_MAX_HEADER_BYTES")
    worker_boot_timeout: float = Field(60.0, gt=0, validation_alias="XIANXIA_WORKER_BOOT_TIMEOUT")

    # Rate limits in the `limits` notation ("20/2seconds", several joined by ";"), counted in Redis when
    # XIANXIA_REDIS_URL is set (shared by every worker and instance), in this process's memory otherwise.
    rate_limits: bool = Field(True, validation_alias="XIANXIA_RATE_LIMITS")  # off: no limit and no LLM budget
    redis_url: str | None = Field(None, validation_alias="XIANXIA_REDIS_URL")
    # Proxies (addresses, CIDRs) whose X-Forwarded-For names the client for the per-address limits; none by default.
    trusted_proxies: str = Field("", validation_alias="XIANXIA_TRUSTED_PROXIES")
    redis_prefix: str = Field("xianxia", min_length=1, max_length=64, validation_alias="XIANXIA_REDIS_PREFIX")
    rate_limit_actions: str = Field("20/2seconds", validation_alias="XIANXIA_RATE_LIMIT_ACTIONS")  # per player
    rate_limit_player_creation: str = Field("10/minute", validation_alias="XIANXIA_RATE_LIMIT_PLAYER_CREATION")
    rate_limit_auth_failures: str = Field("10/minute", validation_alias="XIANXIA_RATE_LIMIT_AUTH_FAILURES")
    rate_limit_llm: str = Field("120/minute", validation_alias="XIANXIA_RATE_LIMIT_LLM")  # per client address
    # Anonymous callers may use the LLM routes (they need a credential whenever an upstream key is set).
    llm_open: bool = Field(False, validation_alias="XIANXIA_LLM_OPEN")
    llm_player_calls_per_minute: int = Field(100, ge=1, validation_alias="XIANXIA_LLM_PLAYER_CALLS_PER_MINUTE")
    llm_player_calls_per_day: int = Field(1000, ge=1, validation_alias="XIANXIA_LLM_PLAYER_CALLS_PER_DAY")
    llm_global_calls_per_minute: int = Field(1000, ge=1, validation_alias="XIANXIA_LLM_GLOBAL_CALLS_PER_MINUTE")
    llm_global_calls_per_day: int = Field(50000, ge=1, validation_alias="XIANXIA_LLM_GLOBAL_CALLS_PER_DAY")

    @field_validator("admin_token", "llm_token", "deepseek_api_key", "redis_url", "task_broker", "metrics_bind")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("metrics_bind")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_address(value)
        return value

    @field_validator("rate_limit_actions", "rate_limit_player_creation", "rate_limit_auth_failures", "rate_limit_llm")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        try:
            limits.parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as '10/minute' or '20/2seconds;100/hour'") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("redis_url", "task_broker")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a Redis URL (redis://host:port/db)")
        return value

    @field_validator("llm_mode", mode="before")
    @classmethod
    def _mode_is_case_blind(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_json", mode="before")
    @classmethod
    def _auto_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "auto" else value

    @model_validator(mode="before")
    @classmethod
    def _legacy_async_switch(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "XIANXIA_LLM_MODE" in data or "llm_mode" in data:
            return data
        legacy = data.get("USE_ASYNC_DEEPSEEK", data.get("use_async_deepseek"))
        if legacy is not None:
            return {**data, "llm_mode": "async" if str(legacy).strip() == "1" else "sync"}
        flask = data.get("FLASK_ASYNC_ENABLED", data.get("flask_async_enabled"))
        if flask is not None:
            return {**data, "llm_mode": "async" if str(flask).strip().lower() in _TRUE else "sync"}
        return data

    def deprecations(self) -> list[tuple[str, str]]:
        """(variable, what to set instead) for every old variable still set; the app logs each at start-up."""
        found = []
        for variable, value in (
            ("USE_ASYNC_DEEPSEEK", self.use_async_deepseek),
            ("FLASK_ASYNC_ENABLED", self.flask_async_enabled),
        ):
            if value is not None:
                found.append((variable, f"XIANXIA_LLM_MODE={self.llm_mode}"))
        return found

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        """`XIANXIA_TRUSTED_PROXIES` as networks (an address is a network of one)."""
        return parse_networks(self.trusted_proxies)

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, when XIANXIA_METRICS_BIND is set."""
        return None if self.metrics_bind is None else split_address(self.metrics_bind)

    @property
    def effective_graceful_timeout(self) -> float:
        """How long a draining worker lets accepted requests finish (an LLM call included)."""
        return self.graceful_timeout if self.graceful_timeout is not None else self.llm_timeout + 10.0

    @property
    def effective_llm_mode(self) -> LLMMode:
        """The start-up mode: without an API key the LLM is off."""
        return self.llm_mode if self.deepseek_api_key else "off"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `os.environ`, or from the mapping given (and nothing else)."""
        if environ is None:
            return cls()
        return cls.model_validate(_MappingSource(cls, environ)())

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Every environment variable the settings read, to its field name."""
        return {str(field.validation_alias): name for name, field in cls.model_fields.items()}


def parse_networks(value: str) -> tuple[Network, ...]:
    """Addresses and CIDRs separated by commas or spaces (`10.0.0.0/8, 192.168.1.7 ::1`); ValueError names a bad one."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network (such as 10.0.0.0/8)") from None
    return tuple(networks)


def split_address(value: str) -> tuple[str, int]:
    """`host:port` or `[v6 host]:port` to (host, port); ValueError naming the expected form otherwise."""
    host, colon, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9100 or [::1]:9100)")
    return host, int(port)


class _MappingSource(EnvSettingsSource):
    """The environment source over a given mapping instead of `os.environ` (as pydantic's dotenv source does)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key: value for key, value in self._environ.items() if value != ""}
