"""The transports under the pooled httpx clients; none of them retries (tenacity is the only retry layer)."""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from xianxia.config import Settings

#: Idle upstream connections are kept this long; a burst after a pause reuses them.
KEEPALIVE_EXPIRY = 15.0


def async_limits(settings: Settings) -> httpx.Limits:
    """Keep-alive sized for the real concurrency (httpx's default of 20 idle connections would churn)."""
    return httpx.Limits(
        max_connections=settings.llm_max_connections,
        max_keepalive_connections=settings.llm_max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


def default_async_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """aiohttp under the httpx API: httpx's own pool stalls under ~1000 concurrent calls (encode/httpx#3215).

    HTTP/1.1 only. No retries: `retries=0` is the transport's (unused) knob, and aiohttp itself only
    re-sends on a stale keep-alive connection for idempotent methods, never for our POSTs.
    """
    return AiohttpTransport(limits=async_limits(settings), retries=0)


def default_sync_transport(settings: Settings) -> httpx.BaseTransport:
    """httpx's own transport for the thread-pool path: one connection per worker thread, no retries."""
    size = settings.llm_max_workers
    return httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=KEEPALIVE_EXPIRY),
        retries=0,
    )


def is_timeout(exc: httpx.TimeoutException) -> bool:
    """False for a dropped connection that httpx-aiohttp reports as `ConnectTimeout` (it maps every
    `aiohttp.ClientConnectionError`, `ServerDisconnectedError` included, to it)."""
    cause = exc.__cause__
    return not (isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError))
