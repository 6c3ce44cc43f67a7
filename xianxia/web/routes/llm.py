"""LLM service routes: chat (async and thread-pool paths), parse, batch and queued batch tasks."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from xianxia.engine import judge
from xianxia.engine.intents import ParseContext
from xianxia.game.errors import InvalidRequest
from xianxia.llm.errors import LLMError
from xianxia.web.contract import enforce
from xianxia.web.errors import NotFound
from xianxia.web.llm_access import guard_llm_route
from xianxia.web.openapi import BODY_ERRORS, LLM_ACCESS, LLM_ERRORS, STORE_ERRORS, errors
from xianxia.web.responses import json_response
from xianxia.web.schemas import BatchIn, BatchOut, ChatIn, ChatOut, ParseIn, ParseOut, TaskAccepted, TaskOut
from xianxia.web.services import services
from xianxia.web.sse import error_event, event, stream_response
from xianxia.world.lookup import find_realm, find_scene

blueprint = Blueprint("llm", __name__, url_prefix="/api/llm")


blueprint.before_request(guard_llm_route)  # credential, per-address limit and budgets: they spend upstream credit


@blueprint.post("/chat")
@validate_request(ChatIn)
@document_response(ChatOut)
@errors(*BODY_ERRORS, *LLM_ACCESS, *LLM_ERRORS)
async def chat(data: ChatIn) -> Response:
    """One prompt through the async client (or the thread pool when the mode is `sync`)."""
    enforce(data, services().settings)
    return json_response(await services().gateway.chat(data.prompt))


@blueprint.post("/chat/sync")
@validate_request(ChatIn)
@document_response(ChatOut)
@errors(*BODY_ERRORS, *LLM_ACCESS, *LLM_ERRORS)
async def chat_sync(data: ChatIn) -> Response:
    """One prompt through the old synchronous client, run in the thread pool."""
    enforce(data, services().settings)
    return json_response(await services().gateway.chat(data.prompt, path="thread"))


@blueprint.post("/chat/stream")
@validate_request(ChatIn)
@errors(*BODY_ERRORS, *LLM_ACCESS, *LLM_ERRORS)
async def chat_stream(data: ChatIn) -> Response:
    """One prompt's answer as Server-Sent Events: `token` events as it is written, then `done` (or `error`).

    Failures before the first token (retried) answer as JSON errors with their status; after it, the
    stream ends with one `error` event.
    """
    enforce(data, services().settings)
    pieces = services().gateway.stream(data.prompt)
    try:
        first = await anext(pieces)
    except BaseException:
        await pieces.aclose()
        raise
    return stream_response(_chat_events(first, pieces))


async def _chat_events(first: str, pieces: AsyncGenerator[str, None]) -> AsyncIterator[bytes]:
    text = [first]
    try:
        yield event("token", {"text": first})
        async for piece in pieces:
            text.append(piece)
            yield event("token", {"text": piece})
    except LLMError as exc:
        yield error_event(exc)
        return
    finally:
        await pieces.aclose()
    yield event("done", {"text": "".join(text)})


@blueprint.post("/parse")
@validate_request(ParseIn)
@document_response(ParseOut)
@errors(*BODY_ERRORS, *LLM_ACCESS, *STORE_ERRORS)
async def parse(data: ParseIn) -> Response:
    """Free text to `{intent, slots, allowed, reason}`; the engine, not the LLM, judges the laws."""
    found = services()
    enforce(data, found.settings)
    world = found.world
    given = data.context
    scene = None if given.scene is None else find_scene(world, given.scene)
    if given.scene is not None and scene is None:
        raise InvalidRequest("context.scene", f"unknown scene {given.scene!r} (give its id, name or an alias)")
    realms: dict[str, str | None] = {}
    for field, wanted in (
        ("context.realm", given.realm if given.realm is not None else given.player_realm),
        ("context.target_realm", given.target_realm),
    ):
        realms[field] = None if wanted is None else find_realm(world, wanted)
        if wanted is not None and realms[field] is None:
            raise InvalidRequest(field, f"unknown realm {wanted!r} (give its id, name or an alias)")
    context = ParseContext(
        scene=scene,
        realm=realms["context.realm"],
        target_realm=realms["context.target_realm"],
        laws=tuple(law[:200] for law in given.laws),
    )
    result = await found.parser.parse(data.utterance, context)
    intent = result.intent
    if context.scene is not None and context.realm is not None:
        intent = judge(world, context.scene, context.realm, intent)
    body = intent.model_dump()
    body["parser"] = result.parser
    if result.degraded:
        body["degraded"] = True
    return json_response(body)


@blueprint.post("/batch")
@validate_request(BatchIn)
@document_response(BatchOut)
@document_response(TaskAccepted, 202)
@errors(*BODY_ERRORS, *LLM_ACCESS, *LLM_ERRORS)
async def batch(data: BatchIn) -> tuple[dict[str, Any], int]:
    """Many prompts, concurrently within the bound, answers in order; `mode: task` queues them."""
    found = services()
    enforce(data, found.settings)
    if data.mode == "task":
        found.gateway.check_available()
        record = await found.tasks.submit("llm_batch", {"prompts": data.prompts})
        return {"task_id": record.id, "status": record.status}, 202
    return {"results": await found.gateway.batch(data.prompts)}, 200


@blueprint.get("/tasks/<task_id>")
@document_response(TaskOut)
@errors(404, 422, *LLM_ACCESS, *STORE_ERRORS)
async def task(task_id: str) -> dict[str, Any]:
    """A queued batch's status and, once done, its results; any worker can answer."""
    record = await services().store.get_task(task_id[:64])
    if record is None:
        raise NotFound(f"no task with id {task_id!r}")
    body: dict[str, Any] = {"task_id": record.id, "status": record.status}
    if record.status == "done":
        body["result"] = record.result
    if record.status == "failed":
        body["error"] = record.error
    return body
