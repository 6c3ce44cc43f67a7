"""Security headers on every response; a route that sets its own (a page's CSP, say) keeps its own."""

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


async def add_security_headers(response: Response) -> Response:
    """Fill in each security header the route did not set; API answers (tokens, player data) are never stored."""
    for name, value in DEFAULTS.items():
        if name not in response.headers:
            response.headers[name] = value
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
