"""The yardstick: a bare Quart JSON route, served by hypercorn like the game."""

from __future__ import annotations

from typing import Any

from quart import Quart, request

app = Quart("bare")


@app.post("/echo")
async def echo() -> dict[str, Any]:
    body = await request.get_json()
    return {"ok": True, "echo": body}
