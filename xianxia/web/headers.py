"""Security headers on every response (a route that sets its own, a page's CSP say, keeps its own); reading one."""

from __future__ import annotations

from quart import Response, request

#: JSON answers load nothing and may not be framed.
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": JSON_CSP,
}
_LOWERED = tuple((name.lower(), name, value) for name, value in DEFAULTS.items())


def header(name: str) -> str | None:
    """The request's first `name` header, if sent: werkzeug's `Headers.get` answers a miss by raising inside."""
    values = request.headers.getlist(name)
    return values[0] if values else None


async def add_security_headers(response: Response) -> Response:
    """Fill in each security header the route did not set; API answers (tokens, player data) are never stored."""
    headers = response.headers
    # One pass over the names: werkzeug answers `name in headers` for an absent name by raising inside.
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118  (Headers iterates pairs, not names)
    for lowered, name, value in _LOWERED:
        if lowered not in present:
            headers.add(name, value)
    if "cache-control" not in present and request.path.startswith("/api/"):
        headers.add("Cache-Control", "no-store")
    return response
