"""`/act` answered as Server-Sent Events: an NPC's line as it is written, then the action's JSON answer."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import structlog
from quart import Quart, Response, current_app

from xianxia.game.service import ActionAnswer
from xianxia.web.sse import error_event, event, stream_response

log = structlog.get_logger(__name__)

#: Runs one action, telling the callback each piece of narration as it is written.
StreamedRun = Callable[[Callable[[str], None]], Coroutine[Any, Any, ActionAnswer]]


async def streamed_action(run: StreamedRun) -> Response:
    """`narration` events (`{"text"}`) as they come, then one `answer` event with the body `/act` answers.

    The response starts once there is something to say: an action that fails before any narration answers
    with its JSON error and status, as without streaming. A player who goes away mid-stream does not stop
    the action: it commits, and a retry with the same Idempotency-Key gets its answer.
    """
    app: Quart = current_app._get_current_object()  # type: ignore[attr-defined]
    pieces: asyncio.Queue[str] = asyncio.Queue()
    # The action binds its log fields (player, intent, law) in its own context: read back for the last line.
    context = contextvars.copy_context()
    action: asyncio.Task[ActionAnswer] = asyncio.get_running_loop().create_task(run(pieces.put_nowait), context=context)
    getter: asyncio.Future[str] = asyncio.ensure_future(pieces.get())
    try:
        await _either(action, getter)
    except BaseException:
        _settle(app, action, getter)
        raise
    if action.done() and not getter.done() and action.exception() is not None:
        getter.cancel()
        action.result()  # raises: the error handlers answer it as JSON
    headers: dict[str, str] = {}
    if action.done() and action.exception() is None and action.result().replayed:
        headers["Idempotent-Replayed"] = "true"
    response = stream_response(_events(app, action, getter, pieces, context))
    response.headers.update(headers)
    return response


async def _events(
    app: Quart,
    action: asyncio.Future[ActionAnswer],
    getter: asyncio.Future[str],
    pieces: asyncio.Queue[str],
    context: contextvars.Context,
) -> AsyncIterator[bytes]:
    try:
        while True:
            await _either(action, getter)
            if not getter.done():
                break  # the action is done; what it said meanwhile is still queued
            yield event("narration", {"text": getter.result()})
            getter = asyncio.ensure_future(pieces.get())
        getter.cancel()
        while not pieces.empty():
            yield event("narration", {"text": pieces.get_nowait()})
        try:
            answer = action.result()
        except Exception as exc:
            yield error_event(exc)
            return
        # The request's own line went out with the headers; this one says what the streamed action did.
        log.info("action_streamed", **context.run(structlog.contextvars.get_contextvars))
        yield event("answer", answer.body)
    finally:
        _settle(app, action, getter)


async def _either(action: asyncio.Future[ActionAnswer], getter: asyncio.Future[str]) -> None:
    waiting: set[asyncio.Future[Any]] = {action, getter}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)


def _settle(app: Quart, action: asyncio.Future[ActionAnswer], getter: asyncio.Future[str]) -> None:
    """Let a still-running action finish as a background task (awaited at shutdown); drop the reader."""
    getter.cancel()
    if not action.done():
        app.add_background_task(_finish, action)


async def _finish(action: asyncio.Future[ActionAnswer]) -> None:
    with contextlib.suppress(Exception):
        await action
