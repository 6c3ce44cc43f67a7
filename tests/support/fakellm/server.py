"""The fake DeepSeek upstream: an aiohttp app answering `/chat/completions`, with faults on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tests.support.fakellm import answers
from tests.support.fakellm.answers import Interpreter
from tests.support.fakellm.faults import FaultName, FaultPicker, FaultPlan, fault_named
from tests.support.fakellm.interpreters import READINGS, Reading, WorldInterpreters
from tests.support.fakellm.openai import ChatRequest, ErrorType, completion, error_body, model_list
from tests.support.fakellm.stats import Stats
from tests.support.fakellm.streaming import stream_answer

log = structlog.get_logger(__name__)

FAULT_HEADER = "X-Fake-Fault"


class FakeConfig(BaseModel):
    """How the fake starts: where it listens, which key it wants, and its initial fault plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(9000, ge=0, le=65535, description="0 picks a free port")
    key: str | None = Field(None, description="the one accepted API key; None accepts any non-empty key")
    plan: FaultPlan = FaultPlan()
    world_dir: Path | None = None
    reading: Reading = Field("faithful", description="contrary: disagree on purpose with the faithful reading")
    models: tuple[str, ...] = ("deepseek-chat", "deepseek-reasoner")
    slow_seconds: float = Field(60.0, ge=0, description="how long a `slow` fault sleeps")
    trickle_seconds: float = Field(300.0, ge=0, description="how long a `trickle` fault sends blank lines")
    trickle_interval: float = Field(0.5, gt=0)
    stream_chunk_chars: int = Field(2, ge=1, description="characters per streamed chunk")
    stream_interval: float = Field(0.01, ge=0, description="seconds between streamed chunks")
    shutdown_timeout: float = Field(5.0, ge=0, description="grace for in-flight requests on shutdown")


@dataclass
class FakeState:
    """Everything a request handler needs, hung on the app."""

    config: FakeConfig
    interpreters: WorldInterpreters
    picker: FaultPicker
    reading: Reading = "faithful"
    stats: Stats = field(default_factory=Stats)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    #: When set, a streamed answer's last chunk waits for this event (ordering tests).
    stream_hold: asyncio.Event | None = None
    chunks_sent: int = 0

    @property
    def interpret(self) -> Interpreter:
        """The interpreter of the reading in force."""
        return self.interpreters.reading(self.reading)


#: Faults a streamed answer suffers on the wire (keep-alives, a stall, a cut) rather than in its content.
STREAM_FAULTS = frozenset({"trickle", "stall", "cut"})

STATE = web.AppKey("fakellm_state", FakeState)

#: Error faults: status, message, error type, extra headers.
ERROR_FAULTS: dict[FaultName, tuple[int, str, ErrorType, dict[str, str]]] = {
    "server_error": (500, "Internal Server Error", "server_error", {}),
    "unavailable": (503, "Server overloaded, please try again later", "server_error", {}),
    "rate_limit": (429, "Rate Limit Reached", "rate_limit_error", {}),
    "rate_limit_retry_after": (429, "Rate Limit Reached", "rate_limit_error", {"Retry-After": "1"}),
    "unauthorized": (401, "Authentication Fails, Your api key is invalid", "authentication_error", {}),
    "payment_required": (402, "Insufficient Balance", "insufficient_balance", {}),
}


def create_fake_app(config: FakeConfig, interpret: Interpreter | None = None) -> web.Application:
    """The fake's aiohttp app; `interpret` (the faithful reading) defaults to the fake's own over `config.world_dir`."""
    app = web.Application(middlewares=[_count_requests], client_max_size=4 * 1024 * 1024)
    app[STATE] = FakeState(
        config=config,
        interpreters=WorldInterpreters(config.world_dir, interpret),
        picker=FaultPicker(config.plan),
        reading=config.reading,
    )
    for prefix in ("", "/v1"):
        app.router.add_post(f"{prefix}/chat/completions", _chat_completions)
        app.router.add_get(f"{prefix}/models", _models)
    app.router.add_get("/_control", _get_control)
    app.router.add_put("/_control", _put_control)
    app.router.add_get("/_interpreter", _get_interpreter)
    app.router.add_put("/_interpreter", _put_interpreter)
    app.router.add_get("/_stats", _get_stats)
    app.router.add_get("/_stats/prompts", _get_prompt_stats)
    app.router.add_post("/_reset", _reset)
    app.on_shutdown.append(_release_waiters)
    return app


@dataclass
class RunningFake:
    """A started fake: its address and its state."""

    base_url: str
    state: FakeState


@contextlib.asynccontextmanager
async def running_fake(config: FakeConfig, interpret: Interpreter | None = None) -> AsyncIterator[RunningFake]:
    """Serve the fake on `config.host:config.port` until the block exits."""
    app = create_fake_app(config, interpret)
    # handler_cancellation: a client that gives up on a `slow` request frees its handler at once.
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=config.shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=4096)
        await site.start()
        port = _bound_port(runner)
        host = f"[{config.host}]" if ":" in config.host else config.host
        yield RunningFake(base_url=f"http://{host}:{port}", state=app[STATE])
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        port: int = address[1]
        return port
    raise RuntimeError("the fake is not listening on any address")


async def _release_waiters(app: web.Application) -> None:
    # Wakes `slow` and `trickle` handlers so shutdown does not wait out their minutes.
    app[STATE].closing.set()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_"):
        return await handler(request)
    stats = request.app[STATE].stats
    stats.started(request.path)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        stats.outcome("not_found" if exc.status == 404 else f"http_{exc.status}")
        return _error(exc.status, exc.reason, "not_found_error" if exc.status == 404 else "invalid_request_error")
    finally:
        stats.finished()


def _error(status: int, message: str, type_: ErrorType, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(message, type_), status=status, headers=headers)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=answers.dumps)


def _authorized(request: web.Request, expected: str | None) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return False
    return expected is None or key == expected


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if not _authorized(request, state.config.key):
        state.stats.outcome("auth_failed")
        return _error(401, "Authentication Fails, Your api key is invalid", "authentication_error")
    raw = await request.read()
    state.stats.body(raw)
    try:
        chat = ChatRequest.model_validate_json(raw)
        forced = request.headers.get(FAULT_HEADER)
        # A bad request is refused before the pick, so it never uses up a queued fault or a draw.
        fault = state.picker.pick(fault_named(forced) if forced else None)
    except ValueError as exc:  # pydantic's ValidationError included
        state.stats.outcome("bad_request")
        return _error(400, _first_error(exc), "invalid_request_error")
    state.stats.outcome(fault or "ok")
    users = [message.content for message in chat.messages if message.role == "user" and message.content is not None]
    if users:
        state.stats.prompt(users[-1])
    if fault is not None:
        log.debug("fault_injected", fault=fault, path=request.path)
    await asyncio.sleep(state.picker.latency)
    return await _answer(request, state, chat, fault)


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(exc)


async def _answer(
    request: web.Request, state: FakeState, chat: ChatRequest, fault: FaultName | None
) -> web.StreamResponse:
    error = ERROR_FAULTS.get(fault) if fault is not None else None
    if error is not None:
        status, message, type_, headers = error
        return _error(status, message, type_, headers)
    if fault == "drop":
        if request.transport is not None:
            request.transport.abort()
        # Nothing can be written any more; aiohttp treats the failed write as a client disconnect.
        return web.Response(status=500)
    if fault == "slow":
        await _wait_or_close(state, state.config.slow_seconds)
    if chat.stream:
        content = _content(state, chat, fault if fault not in STREAM_FAULTS else None)
        return await stream_answer(request, state, chat, content, fault)
    if fault == "trickle":
        return await _trickle(request, state, answers.dumps(completion(chat, _content(state, chat, None))))
    return _json(completion(chat, _content(state, chat, fault)))


def _content(state: FakeState, chat: ChatRequest, fault: FaultName | None) -> str:
    if fault == "blank_content":
        return answers.BLANK_CONTENT
    if fault == "malformed_json":
        return answers.MALFORMED_JSON
    if fault == "hostile":
        return answers.dumps(answers.hostile_answer())
    if answers.is_parse_request(chat):
        content = answers.dumps(answers.parse_answer(chat, state.interpret))
    else:
        content = answers.chat_answer(chat)
    return answers.fenced(content) if fault == "fenced_json" else content


async def _wait_or_close(state: FakeState, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.closing.wait(), seconds)


async def _trickle(request: web.Request, state: FakeState, body: str) -> web.StreamResponse:
    """Headers now, then a blank line every interval, then (long after any sane deadline) the body."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.config.trickle_seconds
    try:
        while loop.time() < deadline and not state.closing.is_set():
            await response.write(b"\n")
            await _wait_or_close(state, min(state.config.trickle_interval, max(0.0, deadline - loop.time())))
        await response.write(body.encode("utf-8"))
        await response.write_eof()
    except ConnectionError:
        log.debug("trickle_client_gone")
    return response


async def _models(request: web.Request) -> web.StreamResponse:
    return _json(model_list(request.app[STATE].config.models))


async def _get_control(request: web.Request) -> web.StreamResponse:
    return _json(request.app[STATE].picker.plan.model_dump(mode="json"))


async def _put_control(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        plan = FaultPlan.model_validate_json(await request.read())
    except ValidationError as exc:
        return _error(400, _first_error(exc), "invalid_request_error")
    state.picker.replace(plan)
    log.info("fault_plan_replaced", plan=plan.model_dump(mode="json"))
    return _json(state.picker.plan.model_dump(mode="json"))


class InterpreterChoice(BaseModel):
    """`PUT /_interpreter`: which reading answers parse prompts from now on."""

    model_config = ConfigDict(extra="forbid")

    reading: Reading


async def _get_interpreter(request: web.Request) -> web.StreamResponse:
    return _json({"reading": request.app[STATE].reading, "readings": list(READINGS)})


async def _put_interpreter(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        choice = InterpreterChoice.model_validate_json(await request.read())
    except ValidationError as exc:
        return _error(400, _first_error(exc), "invalid_request_error")
    state.reading = choice.reading
    log.info("reading_replaced", reading=choice.reading)
    return _json({"reading": state.reading, "readings": list(READINGS)})


async def _get_stats(request: web.Request) -> web.StreamResponse:
    return _json(request.app[STATE].stats.snapshot().model_dump(mode="json"))


async def _get_prompt_stats(request: web.Request) -> web.StreamResponse:
    """How many chat requests each prompt (the last user message) arrived in, since start or the last reset."""
    return _json(dict(request.app[STATE].stats.by_prompt))


async def _reset(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.stats.reset()
    state.picker.replace(state.config.plan)
    state.reading = state.config.reading
    log.info("fake_reset")
    return _json({"plan": state.picker.plan.model_dump(mode="json"), "stats": state.stats.snapshot().model_dump()})
