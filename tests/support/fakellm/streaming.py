"""The fake's streamed answers (`stream: true`): DeepSeek's SSE chunks, keep-alive comments and mid-stream faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.fakellm.faults import FaultName
from tests.support.fakellm.openai import ChatRequest

if TYPE_CHECKING:
    from tests.support.fakellm.server import FakeState

KEEP_ALIVE = b": keep-alive\n\n"


def chunk(request: ChatRequest, stream_id: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One `chat.completion.chunk` as a `data:` line."""
    body = {
        "id": stream_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


def pieces(content: str, size: int) -> Iterator[str]:
    """`content` cut into pieces of `size` characters, as a model writes it token by token."""
    for start in range(0, len(content), max(1, size)):
        yield content[start : start + size]


async def stream_answer(
    request: web.Request, state: FakeState, chat: ChatRequest, content: str, fault: FaultName | None
) -> web.StreamResponse:
    """Send `content` as DeepSeek streams it, suffering `fault` on the way.

    `trickle`: keep-alive comments for `trickle_seconds` before the first chunk; `stall`: the first piece, then
    only keep-alive comments; `cut`: the first piece, then the connection drops. When `state.stream_hold` is
    set, the last piece waits for it (tests prove the first words reach the player before the answer is done).
    """
    config = state.config
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    stream_id = f"chatcmpl-{uuid.uuid4().hex}"
    parts = list(pieces(content, config.stream_chunk_chars))
    try:
        if fault == "trickle":
            await _keep_alive_for(response, state, config.trickle_seconds)
        await response.write(chunk(chat, stream_id, {"role": "assistant", "content": ""}))
        for index, part in enumerate(parts):
            if index == len(parts) - 1 and state.stream_hold is not None:
                await state.stream_hold.wait()
            await response.write(chunk(chat, stream_id, {"content": part}))
            state.chunks_sent += 1
            if index == 0 and fault == "cut":
                if request.transport is not None:
                    request.transport.abort()
                return response
            if index == 0 and fault == "stall":
                await _keep_alive_for(response, state, config.trickle_seconds)
                return response
            if config.stream_interval:
                await asyncio.sleep(config.stream_interval)
        await response.write(chunk(chat, stream_id, {}, finish="stop"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    return response


async def _keep_alive_for(response: web.StreamResponse, state: FakeState, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline and not state.closing.is_set():
        await response.write(KEEP_ALIVE)
        with contextlib.suppress(TimeoutError):
            wait = min(state.config.trickle_interval, max(0.0, deadline - loop.time()))
            await asyncio.wait_for(state.closing.wait(), wait)
