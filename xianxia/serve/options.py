"""What the serving layer reads from the settings: hypercorn's config, connection limits, the event loop."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from hypercorn.config import Config

from xianxia.config import EventLoop, Settings

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a connection may sit idle or send headers, and how many one worker holds."""

    first_request: float
    header: float
    keep_alive: float
    drain_grace: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            first_request=settings.first_request_timeout,
            header=settings.header_timeout,
            keep_alive=settings.keep_alive_timeout,
            drain_grace=settings.drain_grace,
            max_connections=settings.worker_connections,
        )


def hypercorn_config(settings: Settings) -> Config:
    """hypercorn's settings for one worker, from ours (the package carries them, not a file beside it)."""
    config = Config()
    config.keep_alive_timeout = settings.keep_alive_timeout
    config.graceful_timeout = settings.effective_graceful_timeout
    config.h11_max_incomplete_size = settings.max_header_bytes
    config.backlog = settings.backlog
    # No per-read timeout: a request waiting on a 30 s LLM call reads nothing meanwhile; our timers bound clients.
    config.read_timeout = None
    config.include_server_header = False  # no banner naming the server
    config.accesslog = None  # our structlog "request" event is the access log
    config.errorlog = "-"
    return config


def loop_factory(choice: EventLoop) -> LoopFactory | None:
    """The event loop to run workers on: uvloop where available (auto), or the one asked for."""
    if choice == "asyncio":
        return None
    if importlib.util.find_spec("uvloop") is None:
        if choice == "uvloop":
            raise RuntimeError("XIANXIA_EVENT_LOOP=uvloop but uvloop is not installed (pip install uvloop)")
        return None
    import uvloop

    return uvloop.new_event_loop


def loop_name(factory: LoopFactory | None) -> str:
    return "asyncio" if factory is None else factory.__module__.split(".", 1)[0]
