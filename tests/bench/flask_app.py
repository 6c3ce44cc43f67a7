"""The old architecture, as the baseline: Flask async views calling the upstream with one pooled sync client.

Served by gunicorn's threaded worker (`gthread`), as the Flask service was; every call holds a thread for
the upstream's whole latency.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from flask import Flask, request

app = Flask("old-service")
#: One pooled client per process, shared by the worker's threads (the old `requests.Session`).
upstream = httpx.Client(
    base_url=os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9000"),
    limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    timeout=60.0,
)


@app.post("/api/llm/chat")
async def chat() -> dict[str, Any]:
    body = request.get_json()
    messages = [{"role": "user", "content": body["prompt"]}]
    answer = upstream.post(  # noqa: ASYNC212  (the old service blocked here: that is the baseline)
        "/chat/completions",
        json={"model": "deepseek-chat", "messages": messages},
        headers={"Authorization": "Bearer k"},
    )
    return {"text": answer.json()["choices"][0]["message"]["content"]}


@app.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}
