"""`create_app(settings)`: the Quart app over the services `Services.build` assembles."""

from __future__ import annotations

import os
import random
import re
import time

import httpx
import structlog
from quart import Quart, Response, g, request
from quart_schema import QuartSchema
from werkzeug.exceptions import UnsupportedMediaType

from xianxia import __version__
from xianxia.config import Settings
from xianxia.logs import configure_logging
from xianxia.store.base import Store
from xianxia.web.contract import ContractOpenAPIProvider
from xianxia.web.errors import register_error_handlers
from xianxia.web.headers import add_security_headers, header
from xianxia.web.json_provider import FastJSONProvider
from xianxia.web.limits import install_limits
from xianxia.web.routes import admin, llm, ops, players
from xianxia.web.routes import client as client_routes
from xianxia.web.routes import world as world_routes
from xianxia.web.services import EXTENSION_KEY, Services, services
from xianxia.world import World

log = structlog.get_logger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
API_DESCRIPTION = (
    "Every limit, body and answer here is the running server's own: configured limits are read from its "
    'settings. Errors are `{"error": {"code", "message"}}` (a 422 adds `fields`). One answer never comes '
    "from the app: a request line and headers over XIANXIA_MAX_HEADER_BYTES (16 KiB by default) are answered "
    "431 by hypercorn's HTTP layer itself, with an empty body, before any route sees the request."
)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id() -> str:
    """32 hex digits, like a uuid4's: for telling requests apart in the logs, not a secret, so drawn from the
    process's generator (seeded from the OS, reseeded in a forked child) instead of a getrandom call each."""
    return f"{random.getrandbits(128):032x}"


def create_app(
    settings: Settings | None = None,
    *,
    world: World | None = None,
    store: Store | None = None,
    llm_transport: httpx.AsyncBaseTransport | None = None,
    llm_sync_transport: httpx.BaseTransport | None = None,
) -> Quart:
    """The Quart app over `Services.build(settings, ...)`: routes, errors, and the services' life cycle."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    for variable, instead in settings.deprecations():
        log.warning("deprecated_setting", variable=variable, use_instead=instead, see="docs/MIGRATION.md")
    found = Services.build(
        settings, world=world, store=store, llm_transport=llm_transport, llm_sync_transport=llm_sync_transport
    )

    app = Quart("xianxia")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, QUART_SCHEMA_CONVERT_CASING=False)
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # /docs is served by the client blueprint, assets from the package
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Xianxia World Engine", "version": __version__, "description": API_DESCRIPTION},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        openapi_provider_class=ContractOpenAPIProvider,  # the app's own limits, required bodies, text answers
    )
    # After QuartSchema, which installs its own JSON provider: Chinese stays readable, fields keep their order.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # orjson in front of it; what orjson refuses (and pydantic models, via `default`) still goes through it.
    app.json = FastJSONProvider(app, app.json)  # type: ignore[arg-type]
    app.extensions[EXTENSION_KEY] = found
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
    install_limits(app, settings)
    _register_request_context(app)
    app.after_request(add_security_headers)

    @app.before_serving
    async def _open() -> None:
        await found.start()
        log.info(
            "app_started",
            database=settings.database_url.split("://", 1)[0],
            scenes=len(found.world.scenes),
            llm_mode=found.modes.current,
            pid=os.getpid(),
        )

    @app.after_serving
    async def _close() -> None:
        await found.aclose()
        log.info("app_stopped")

    return app


def _register_request_context(app: Quart) -> None:
    """Bind a request id to every log line of a request, echo it in `X-Request-ID`, count the request."""

    @app.before_request
    async def _json_only() -> None:
        """A body sent to the API must be JSON (typed so); say so instead of failing validation obscurely."""
        if request.url_rule is not None and request.method in BODY_METHODS and not request.is_json:
            given = f"Content-Type {request.mimetype}" if request.mimetype else "no Content-Type"
            raise UnsupportedMediaType(f"send the body as JSON with Content-Type: application/json, not {given}")

    @app.before_request
    async def _bind() -> None:
        incoming = header("X-Request-ID") or ""
        request_id = incoming if REQUEST_ID.match(incoming) else new_request_id()
        g.request_id = request_id
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

    @app.after_request
    async def _finish(response: Response) -> Response:
        found = services()
        request_id = getattr(g, "request_id", None) or new_request_id()
        response.headers["X-Request-ID"] = request_id
        response.headers["X-LLM-Mode"] = found.modes.current
        started = getattr(g, "started", None)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if started is not None:
            elapsed = time.perf_counter() - started
            found.metrics.request_done(request.method, route, response.status_code, elapsed)
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                ms=round(elapsed * 1000, 2),
            )
        return response
