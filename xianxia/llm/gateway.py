"""The chat routes' way to the LLM: honours the live mode and runs batches within the concurrency bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

import structlog

from xianxia.config import LLMMode
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.errors import LLMError, LLMUnavailable, error_code
from xianxia.llm.prompts import build_chat_messages

log = structlog.get_logger(__name__)

#: `auto` follows the live mode; `thread` is the old synchronous client in the thread pool.
ChatPath = Literal["auto", "thread"]


def describe_error(exc: LLMError) -> dict[str, str]:
    """A batch item's error in the API's error shape."""
    return {"code": error_code(exc), "message": str(exc) or type(exc).__name__}


class LLMGateway:
    """Sends chat prompts through the path the current mode selects."""

    def __init__(self, client: DeepSeekClient | None, mode: Callable[[], LLMMode], *, batch_concurrency: int) -> None:
        self._client = client
        self._mode = mode
        self._batch_concurrency = max(1, batch_concurrency)

    def check_available(self) -> None:
        """Raise `LLMUnavailable` unless chat can reach the LLM now."""
        self._available()

    def _available(self) -> DeepSeekClient:
        mode = self._mode()
        if self._client is None:
            raise LLMUnavailable("the LLM is off: DEEPSEEK_API_KEY is not set")
        if mode == "off":
            raise LLMUnavailable("the LLM is off (mode 'off'); the game still plays with the rules parser")
        return self._client

    async def chat(self, prompt: str, *, path: ChatPath = "auto") -> dict[str, str]:
        """One prompt: the async client in mode `async`, the thread pool in mode `sync` or on request."""
        client = self._available()
        if path == "thread" or self._mode() == "sync":
            return await client.chat_in_thread(prompt)
        return await client.chat_async(prompt)

    def stream(self, prompt: str) -> AsyncGenerator[str, None]:
        """One prompt's answer as it is written (the async client in both modes: streaming has no thread path)."""
        return self._available().stream_async(build_chat_messages(prompt))

    async def batch(self, prompts: list[str]) -> list[dict[str, Any]]:
        """Every prompt concurrently (bounded), answers in order; one failure does not fail the rest."""
        self._available()
        gate = asyncio.Semaphore(self._batch_concurrency)

        async def one(prompt: str) -> dict[str, Any]:
            async with gate:
                return await self.batch_item(prompt)

        return list(await asyncio.gather(*(one(prompt) for prompt in prompts)))

    @property
    def batch_concurrency(self) -> int:
        """How many prompts of one batch run at once."""
        return self._batch_concurrency

    async def batch_item(self, prompt: str) -> dict[str, Any]:
        """One prompt of a batch: its answer, or its error in the API's shape (it does not fail the batch)."""
        try:
            return await self.chat(prompt)
        except LLMError as exc:
            log.info("llm_batch_item_failed", error=type(exc).__name__)
            return {"error": describe_error(exc)}

    async def run_batch_task(self, payload: dict[str, Any]) -> Any:
        """The task runner's handler for queued batches."""
        prompts = payload.get("prompts")
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise ValueError("a batch task needs a list of prompt strings")
        return await self.batch(prompts)
