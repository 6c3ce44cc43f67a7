"""The browser client at `/` and the API docs at `/docs`: pages and assets served from the package, strict CSP."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from quart import Blueprint, Response, render_template, send_from_directory
from quart_schema import hide

from xianxia.web.errors import NotFound

HERE = Path(__file__).resolve().parent.parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

#: The pages' policy: scripts, styles and requests from this origin only; no inline script or style, no framing.
PAGE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
#: Swagger UI's files (the `swagger-ui-py` package ships the upstream dist with its licence); only these are served.
SWAGGER_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png", "LICENSE"}
)

blueprint = Blueprint("client", __name__, template_folder=str(TEMPLATES))


def swagger_dir() -> Path:
    """Where the installed `swagger-ui-py` keeps Swagger UI's dist files."""
    return Path(str(importlib.resources.files("swagger_ui") / "static"))


def page(html: str) -> Response:
    """An HTML page with its own CSP; the app's header hook leaves a CSP already set alone."""
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/")
@hide
async def index() -> Response:
    """The game's browser client."""
    return page(await render_template("index.html"))


@blueprint.get("/docs")
@hide
async def docs() -> Response:
    """Swagger UI over `/openapi.json`, every asset from this server."""
    return page(await render_template("docs.html"))


@blueprint.get("/assets/<path:filename>")
@hide
async def static(filename: str) -> Response:
    """The client's own files (scripts, styles, icon); nothing outside the static folder."""
    return await send_from_directory(STATIC, filename)


@blueprint.get("/docs/assets/<name>")
@hide
async def docs_asset(name: str) -> Response:
    """One of Swagger UI's files."""
    if name not in SWAGGER_ASSETS:
        raise NotFound(f"no docs asset named {name!r}")
    return await send_from_directory(swagger_dir(), name)
