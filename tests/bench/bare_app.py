"""The yardsticks, served by the same serving layer as the game: a bare Quart JSON route (`/echo`), the
framework's floor for a 1 s call (`/sleep`, a route that only sleeps), and a minimal Quart proxy to the
upstream (`/chat`: httpx on the aiohttp transport, one pooled client)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from quart import Quart, request

app = Quart("bare")
#: The sleep route's stand-in for the upstream's latency (seconds).
SLEEP = float(os.environ.get("BENCH_SLEEP", "1.0"))


@app.post("/echo")
async def echo() -> dict[str, Any]:
    body = await request.get_json()
    return {"ok": True, "echo": body}


@app.post("/sleep")
async def sleep() -> dict[str, Any]:
    await request.get_json()
    await asyncio.sleep(SLEEP)
    return {"text": "ok"}


LIMITS = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)


@app.before_serving
async def open_client() -> None:
    app.extensions["http"] = httpx.AsyncClient(
        base_url=os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9"),
        transport=AiohttpTransport(limits=LIMITS),
        timeout=60.0,
        limits=LIMITS,
    )


@app.post("/chat")
async def chat() -> dict[str, Any]:
    body = await request.get_json()
    messages = [{"role": "user", "content": body["prompt"]}]
    answer = await app.extensions["http"].post(
        "/chat/completions",
        json={"model": "deepseek-chat", "messages": messages},
        headers={"Authorization": "Bearer k"},
    )
    return {"text": answer.json()["choices"][0]["message"]["content"]}
