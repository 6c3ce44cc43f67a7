"""One process holds hundreds of slow requests at once: latency is a sleep, never a block."""

from __future__ import annotations

import asyncio

import httpx
from httpx_aiohttp import AiohttpTransport

from tests.fakellm.conftest import StandInInterpreter, chat_body
from tests.support.fakellm import FakeConfig, FaultPlan, running_fake


async def test_200_concurrent_requests_with_half_a_second_latency_finish_together() -> None:
    config = FakeConfig(port=0, plan=FaultPlan(latency=0.5))
    # httpx's own pool spends over a second just juggling 200 connections; aiohttp's transport keeps the
    # measurement about the server (and is what the game's DeepSeek client rides on).
    async with (
        running_fake(config, StandInInterpreter()) as fake,
        httpx.AsyncClient(
            base_url=fake.base_url,
            headers={"Authorization": "Bearer k"},
            transport=AiohttpTransport(limits=httpx.Limits(max_connections=250)),
        ) as client,
    ):
        responses = await asyncio.gather(
            *(client.post("/chat/completions", json=chat_body(f"请求{n}")) for n in range(200))
        )
        stats = fake.state.stats.snapshot()

    assert [response.status_code for response in responses] == [200] * 200
    assert stats.max_in_flight > 100  # the latency is a sleep: served one by one, this would be 1
    assert stats.distinct_bodies == 200
