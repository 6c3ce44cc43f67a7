"""`create_app(settings)`: the one place the app is assembled."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid

import httpx
import structlog
from quart import Quart, Response, g, request
from quart_schema import QuartSchema
from werkzeug.exceptions import UnsupportedMediaType

from xianxia import __version__
from xianxia.config import LLMMode, Settings
from xianxia.control.mode import ModeSwitch
from xianxia.engine import Outcome
from xianxia.engine.intents import IntentParser, ParseResult
from xianxia.game.service import GameService
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.dialogue import NPCDialogue
from xianxia.llm.gateway import LLMGateway
from xianxia.llm.parser import LLMParser
from xianxia.logs import configure_logging
from xianxia.metrics import Metrics, mark_worker_dead
from xianxia.parsing.rules import RulesParser
from xianxia.process_metrics import ProcessSampler, RecentPlayers
from xianxia.store.base import Store
from xianxia.store.factory import create_store
from xianxia.tasks.runner import TaskRunner
from xianxia.web.errors import register_error_handlers
from xianxia.web.routes import admin, llm, ops, players
from xianxia.web.routes import client as client_routes
from xianxia.web.routes import world as world_routes
from xianxia.web.services import EXTENSION_KEY, Services, services
from xianxia.world import World, load_world

log = structlog.get_logger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(
    settings: Settings | None = None,
    *,
    world: World | None = None,
    store: Store | None = None,
    llm_transport: httpx.AsyncBaseTransport | None = None,
    llm_sync_transport: httpx.BaseTransport | None = None,
) -> Quart:
    """Build the app: world, store, parsers, LLM client and routes; open and close them with the server."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    for variable, instead in settings.deprecations():
        log.warning("deprecated_setting", variable=variable, use_instead=instead, see="docs/MIGRATION.md")
    world = world or load_world(settings.world_dir)
    store = store or create_store(settings.database_url)
    metrics = Metrics()
    client: DeepSeekClient | None = None

    def mode_changed(mode: LLMMode) -> None:
        metrics.mode(mode)
        metrics.llm_rolled_back.set(1 if mode == "off" and modes.state.changed_by == "upstream" else 0)
        if mode != "off" and client is not None:
            client.rearm_fatal()  # switched back on: the next 401/402 must switch it off again

    modes = ModeSwitch(
        store,
        settings.llm_mode,
        llm_available=settings.deepseek_api_key is not None,
        refresh_seconds=settings.mode_refresh_seconds,
        on_change=mode_changed,
    )
    loop_holder: dict[str, asyncio.AbstractEventLoop] = {}
    pending_switches: set[asyncio.Task[None]] = set()

    async def store_off(reason: str) -> None:
        try:
            await modes.set("off", changed_by="upstream", reason=reason)
        except Exception:
            # The store is down too: this worker stops calling the upstream anyway (the client's latch);
            # the others find out from their own 401/402.
            log.exception("llm_mode_switch_failed", reason=reason)

    def switch_off(reason: str) -> None:
        """401/402 from the upstream: turn the LLM off for every worker (may be called from the thread pool)."""
        status = "402" if "402" in reason else "401"
        metrics.llm_fatal.labels(status).inc()
        metrics.llm_rollbacks.labels(f"upstream_{status}").inc()
        loop = loop_holder.get("loop")
        if loop is None:
            return

        def schedule() -> None:
            task = loop.create_task(store_off(reason))
            pending_switches.add(task)
            task.add_done_callback(pending_switches.discard)

        loop.call_soon_threadsafe(schedule)

    rules = RulesParser(world)
    parser: IntentParser = rules
    dialogue: NPCDialogue | None = None
    if settings.deepseek_api_key is not None:
        client = DeepSeekClient(
            settings,
            world,
            observer=metrics,
            transport=llm_transport,
            sync_transport=llm_sync_transport,
            on_fatal=switch_off,
        )

        parser = LLMParser(
            client, rules, mode=lambda: modes.current, budget=settings.llm_parse_budget, observer=metrics
        )
        dialogue = NPCDialogue(client, world, mode=lambda: modes.current, budget=settings.llm_parse_budget)

    recent_players = RecentPlayers()

    def observe(outcome: Outcome, parsed: ParseResult) -> None:
        recent_players.saw(outcome.state.id)
        metrics.actions.labels(outcome.intent.intent, str(outcome.allowed).lower(), parsed.parser).inc()
        if parsed.parser == "rules" and not isinstance(parser, LLMParser):
            metrics.decision("rules_only")

    game = GameService(world, store, parser, dialogue=dialogue, observe=observe)
    gateway = LLMGateway(client, lambda: modes.current, batch_concurrency=settings.llm_max_concurrency)
    tasks = TaskRunner(
        store,
        {"llm_batch": gateway.run_batch_task},
        heartbeat_seconds=settings.task_heartbeat_seconds,
        stale_after=settings.task_stale_seconds,
        max_running=settings.task_max_running,
        observer=metrics,
    )
    sampler = ProcessSampler(
        metrics,
        probes=(
            lambda: metrics.task_state(*tasks.snapshot()),
            lambda: metrics.players_active.set(recent_players.count()),
        ),
    )

    app = Quart("xianxia")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, QUART_SCHEMA_CONVERT_CASING=False)
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # /docs is served by the client blueprint, assets from the package
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Xianxia World Engine", "version": __version__},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
    )
    # After QuartSchema, which installs its own JSON provider: Chinese stays readable, fields keep their order.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        world=world,
        store=store,
        game=game,
        rules=rules,
        parser=parser,
        modes=modes,
        gateway=gateway,
        tasks=tasks,
        metrics=metrics,
        client=client,
    )
    for blueprint in (
        players.blueprint,
        world_routes.blueprint,
        llm.blueprint,
        admin.blueprint,
        ops.blueprint,
        client_routes.blueprint,
    ):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    _register_request_context(app)

    @app.before_serving
    async def _open() -> None:
        loop_holder["loop"] = asyncio.get_running_loop()
        await store.open()
        await modes.start()
        if client is not None:
            await client.start()
        await tasks.start()
        await sampler.start()
        log.info(
            "app_started",
            database=settings.database_url.split("://", 1)[0],
            scenes=len(world.scenes),
            llm_mode=modes.current,
            pid=os.getpid(),
        )

    @app.after_serving
    async def _close() -> None:
        await sampler.stop()
        await tasks.stop()
        if client is not None:
            await client.aclose()
        await modes.stop()
        await store.close()
        mark_worker_dead(os.getpid())
        log.info("app_stopped")

    return app


def _register_request_context(app: Quart) -> None:
    """Bind a request id to every log line of a request, echo it in `X-Request-ID`, count the request."""

    @app.before_request
    async def _json_only() -> None:
        """A body sent to the API must be JSON; say so instead of failing validation obscurely."""
        if request.method in BODY_METHODS and request.mimetype and not request.is_json:
            raise UnsupportedMediaType(
                f"send the body as JSON (Content-Type: application/json), not {request.mimetype or 'untyped'}"
            )

    @app.before_request
    async def _bind() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = request_id
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

    @app.after_request
    async def _finish(response: Response) -> Response:
        found = services()
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        response.headers["X-LLM-Mode"] = found.modes.current
        started = getattr(g, "started", None)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if started is not None:
            elapsed = time.perf_counter() - started
            found.metrics.http_requests.labels(request.method, route, str(response.status_code)).inc()
            found.metrics.http_latency.labels(request.method, route).observe(elapsed)
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                ms=round(elapsed * 1000, 2),
            )
        return response
