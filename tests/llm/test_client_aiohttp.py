"""The default transports (aiohttp for async, httpx for the thread pool) against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.llm.conftest import API_KEY, completion, llm_settings
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.errors import LLMConnectionError, LLMTimeout
from xianxia.world import World


class LocalUpstream:
    """A tiny `/chat/completions` server; `behaviour` picks how it answers."""

    def __init__(self) -> None:
        self.behaviour = "answer"
        self.latency = 0.0
        self.wait_for = 0  # hold each answer until this many requests are in
        self.all_in = asyncio.Event()
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.json())
        self.auth.append(request.headers.get("Authorization", ""))
        if self.behaviour == "drop":
            assert request.transport is not None
            request.transport.close()  # no answer at all: the connection just dies
            return web.Response()
        if self.behaviour == "trickle":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            while True:  # DeepSeek under load: blank keep-alive lines, never an answer
                await response.write(b"\n")
                await asyncio.sleep(0.02)
        await asyncio.sleep(self.latency)
        if len(self.bodies) >= self.wait_for:
            self.all_in.set()
        await self.all_in.wait()
        return web.json_response(completion("仙路漫漫"))


@pytest.fixture
async def upstream() -> AsyncIterator[LocalUpstream]:
    server = LocalUpstream()
    app = web.Application()
    app.router.add_post("/chat/completions", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    yield server
    await runner.cleanup()


@pytest.fixture
async def real_client(upstream: LocalUpstream, llm_world: World) -> AsyncIterator[DeepSeekClient]:
    client = DeepSeekClient(llm_settings(deepseek_base_url=upstream.url, llm_timeout=0.5, llm_max_retries=1), llm_world)
    await client.start()
    yield client
    await client.aclose()


async def test_chat_through_the_aiohttp_transport(upstream: LocalUpstream, real_client: DeepSeekClient) -> None:
    assert await real_client.chat_async("你好") == {"text": "仙路漫漫"}
    assert upstream.auth == [f"Bearer {API_KEY}"]
    assert upstream.bodies[0]["messages"][-1]["content"] == "你好"


async def test_chat_through_the_thread_pool_and_httpx(upstream: LocalUpstream, real_client: DeepSeekClient) -> None:
    assert await real_client.chat_in_thread("你好") == {"text": "仙路漫漫"}
    assert upstream.auth == [f"Bearer {API_KEY}"]


async def test_fifty_concurrent_calls_share_the_aiohttp_pool(upstream: LocalUpstream, llm_world: World) -> None:
    upstream.wait_for = 50  # no answer until all fifty are in: calls sent one by one would time out
    client = DeepSeekClient(llm_settings(deepseek_base_url=upstream.url, llm_timeout=30), llm_world)
    await client.start()
    try:
        results = await asyncio.gather(*(client.chat_async(f"问{i}") for i in range(50)))
    finally:
        await client.aclose()
    assert results == [{"text": "仙路漫漫"}] * 50


async def test_the_transports_do_not_retry_a_dropped_connection(
    upstream: LocalUpstream, real_client: DeepSeekClient
) -> None:
    upstream.behaviour = "drop"

    with pytest.raises(LLMConnectionError):
        await real_client.chat_async("你好")
    with pytest.raises(LLMConnectionError):
        await real_client.chat_in_thread("你好")
    assert len(upstream.bodies) == 2  # llm_max_retries=1: one request each, nothing re-sent underneath


@pytest.mark.parametrize("path", ["async", "thread"])
async def test_keepalive_lines_cannot_hold_a_call_past_its_deadline(
    upstream: LocalUpstream, real_client: DeepSeekClient, path: str
) -> None:
    upstream.behaviour = "trickle"

    async with asyncio.timeout(10):  # the lines never end: without the deadline this bound fails the test
        with pytest.raises(LLMTimeout, match=r"within 0\.5s"):
            await (real_client.chat_async("你好") if path == "async" else real_client.chat_in_thread("你好"))
    assert json.dumps(upstream.bodies[0], ensure_ascii=False).count("你好") == 1
