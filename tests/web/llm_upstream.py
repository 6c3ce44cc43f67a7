"""A DeepSeek stand-in for API tests: a respx router served to the app's httpx clients as their transport."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import respx

BASE_URL = "https://deepseek.test"


def completion(content: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """An OpenAI-style chat completion answer."""
    body = {
        "id": "cmpl-test",
        "object": "chat.completion",
        "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }
    return httpx.Response(status, json=body, headers=headers)


class Upstream:
    """Answers chat prompts with an echo and parse prompts with a scripted intent; records every request."""

    def __init__(self) -> None:
        self.router = respx.MockRouter(base_url=BASE_URL, assert_all_called=False)
        self.route = self.router.post("/chat/completions").mock(side_effect=self._answer)
        self.intent: dict[str, Any] | None = None
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []  # "async" or "thread": which client sent each request
        self.gate: asyncio.Event | None = None  # when set, async requests wait for it

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content)
        self.requests.append(body)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "scripted failure"}})
        if body.get("response_format", {}).get("type") == "json_object":
            utterance = json.loads(body["messages"][-1]["content"])["utterance"]
            intent = self.intent or {"intent": "look", "slots": {}, "allowed": True, "reason": utterance}
            return completion(json.dumps(intent, ensure_ascii=False))
        return completion("道友请了：" + body["messages"][-1]["content"][:40])

    def transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            self.paths.append("async")
            if self.gate is not None:
                await self.gate.wait()
            return await self.router.async_handler(request)

        return httpx.MockTransport(handle)

    def sync_transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.paths.append("thread")
            return self.router.handler(request)

        return httpx.MockTransport(handle)
