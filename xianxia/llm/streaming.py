"""One streamed chat completion (`stream: true`): DeepSeek's SSE read line by line under three time limits.

The first token must come within `first_token` seconds, each next one within `idle` seconds of the last, and
the whole answer within the call's total budget. DeepSeek keeps a busy connection alive with `: keep-alive`
comments and blank lines; those are not tokens, so they never move a deadline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from xianxia.llm.errors import LLMBadAnswer, LLMBlankAnswer, LLMBusy, LLMError, LLMTimeout
from xianxia.llm.observer import LLMObserver

COMPLETIONS_PATH = "/chat/completions"
#: The most an error body or an unstreamed answer may weigh, and the most text a stream may carry.
MAX_STREAM_CHARS = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024


#: The client's reading of a whole answer: raises for an error status, else the answer's content.
AnswerReader = Callable[[httpx.Response, bytes], str]
#: The client's mapping of a transport failure to its error.
TransportMapper = Callable[[httpx.TransportError], LLMError]


class _Done:
    """`data: [DONE]`: the upstream's end of the answer."""


DONE: Final = _Done()


@dataclass(frozen=True)
class StreamLimits:
    """Seconds to the first token, between tokens, and (as a loop-clock deadline) for the whole call."""

    first_token: float
    idle: float


def content_of(line: str) -> str | _Done | None:
    """The text one SSE line of the upstream adds; None for comments, blank lines and chunks without text."""
    line = line.strip()
    if not line.startswith("data:"):
        return None  # ": keep-alive", blank lines, `event:` / `id:` fields
    data = line[5:].strip()
    if data == "[DONE]":
        return DONE
    try:
        chunk: Any = json.loads(data)
    except ValueError:
        raise LLMBadAnswer("stream chunk is not JSON") from None
    if not isinstance(chunk, dict):
        raise LLMBadAnswer("stream chunk is not an object")
    if "error" in chunk:
        raise LLMBadAnswer(f"upstream error inside the stream: {str(chunk['error'])[:200]}")
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None  # e.g. the closing usage chunk
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) and content else None


class UpstreamStream:
    """An open streamed answer: `first` holds its first token once `open_stream` returns; `rest()` yields the others."""

    def __init__(
        self,
        limits: StreamLimits,
        deadline: float,
        slots: asyncio.Semaphore,
        observer: LLMObserver,
        transport_error: TransportMapper,
    ) -> None:
        self._limits = limits
        self._transport_error = transport_error
        self._deadline = deadline  # loop clock
        self._slots = slots
        self._observer = observer
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self._chars = 0
        self._closed = False
        self.first = ""

    async def start(self, client: httpx.AsyncClient, body: dict[str, Any], read_answer: AnswerReader) -> None:
        """Send the request and wait for the first token; `read_answer` raises for an error status."""
        loop = asyncio.get_running_loop()
        first_at = min(self._deadline, loop.time() + self._limits.first_token)
        request = client.build_request("POST", COMPLETIONS_PATH, json=body)
        try:
            async with asyncio.timeout_at(first_at):
                self._response = await client.send(request, stream=True)
                if self._response.status_code >= 300:
                    raw = await _read_bounded(self._response, MAX_ERROR_BYTES)
                    read_answer(self._response, raw)
                if not self._response.headers.get("content-type", "").startswith("text/event-stream"):
                    # Answered unstreamed (blank lines, then a JSON body): one token holding the whole answer.
                    raw = await _read_bounded(self._response, MAX_STREAM_CHARS)
                    self.first = read_answer(self._response, raw)
                    return
        except TimeoutError:
            raise LLMTimeout(f"streamed answer: no first token within {self._limits.first_token:.1f}s") from None
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        self._lines = self._response.aiter_lines()
        first = await self._next(first_at, "first token")
        if first is None:
            raise LLMBlankAnswer("the stream ended without a token")
        self.first = first

    async def rest(self) -> AsyncIterator[str]:
        """The tokens after the first, each within the idle limit of the one before."""
        if self._lines is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            token = await self._next(loop.time() + self._limits.idle, "next token")
            if token is None:
                return
            yield token

    async def _next(self, at: float, waiting_for: str) -> str | None:
        assert self._lines is not None
        until = min(at, self._deadline)
        while True:
            try:
                async with asyncio.timeout_at(until):
                    line = await anext(self._lines)
            except StopAsyncIteration:
                return None
            except TimeoutError:
                limit = "total LLM_TIMEOUT" if until == self._deadline else waiting_for
                raise LLMTimeout(f"streamed answer: no {waiting_for} in time ({limit} limit)") from None
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            content = content_of(line)
            if content is DONE:
                return None
            if isinstance(content, str):
                self._chars += len(content)
                if self._chars > MAX_STREAM_CHARS:
                    raise LLMBadAnswer(f"streamed answer longer than {MAX_STREAM_CHARS} characters")
                return content

    async def aclose(self) -> None:
        """Close the upstream response and give back the concurrency slot. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._response is not None:
                await self._response.aclose()
        finally:
            self._slots.release()
            self._observer.inflight(-1)


async def open_stream(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    limits: StreamLimits,
    deadline: float,
    slots: asyncio.Semaphore,
    observer: LLMObserver,
    read_answer: AnswerReader,
    transport_error: TransportMapper,
) -> UpstreamStream:
    """One attempt: a concurrency slot, the request, the first token. On failure everything is closed again."""
    if asyncio.get_running_loop().time() >= deadline:
        raise LLMTimeout("the LLM call's total time budget is spent")
    try:
        async with asyncio.timeout_at(deadline):
            await slots.acquire()
    except TimeoutError:
        raise LLMBusy("no free LLM slot in time") from None
    observer.inflight(1)
    stream = UpstreamStream(limits, deadline, slots, observer, transport_error)
    try:
        await stream.start(client, body, read_answer)
    except BaseException:
        await stream.aclose()
        raise
    return stream


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    raw = bytearray()
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) > limit:
            raise LLMBadAnswer(f"answer larger than {limit} bytes")
    return bytes(raw)
