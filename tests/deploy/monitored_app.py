"""A running app (two workers, the fake upstream) that has seen enough traffic for every metric to have samples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.fakellm.process import fake_upstream
from tests.support.server import hypercorn_server

ADMIN_TOKEN = "monitoring-admin"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)")


@dataclass
class MonitoredApp:
    base_url: str
    upstream_url: str
    log_path: Path


def sample_names(exposition: str) -> set[str]:
    """The metric names that carry samples in a Prometheus text exposition."""
    return {m.group(1) for line in exposition.splitlines() if (m := SAMPLE.match(line))}


def drive_traffic(base_url: str, upstream_url: str) -> None:
    """Players act through the LLM path, one call is retried, one batch runs as a task."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base_url, timeout=30) as client, httpx.Client(base_url=upstream_url) as control:
        created = client.post("/api/players", json={"name": "监察"}).json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        path = f"/api/players/{created['player']['id']}/act"
        for text in ("看看", "去坊市", "回主城"):
            assert client.post(path, json={"text": text}, headers=auth).status_code == 200
        assert control.put("/_control", json={"next": ["server_error"]}).status_code == 200
        assert client.post("/api/llm/chat", json={"prompt": "一次重试"}, headers=admin).status_code == 200
        assert control.put("/_control", json={"next": ["server_error"] * 5}).status_code == 200
        client.post("/api/llm/chat", json={"prompt": "一次失败"}, headers=admin)  # every attempt fails: an error
        control.post("/_reset")
        task = client.post("/api/llm/batch", json={"prompts": ["甲", "乙"], "mode": "task"}, headers=admin)
        assert task.status_code == 202, task.text
        client.get("/readyz")
        client.get("/metrics", headers=admin)


@contextmanager
def monitored_app(tmp_path: Path) -> Iterator[MonitoredApp]:
    with fake_upstream(tmp_path / "fakellm.log") as upstream_url:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'monitoring.db'}",
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream_url,
            "XIANXIA_LLM_MODE": "async",
            "XIANXIA_ADMIN_TOKEN": ADMIN_TOKEN,
            "XIANXIA_LLM_OPEN": "1",
            "LLM_MAX_RETRIES": "2",
        }
        with hypercorn_server(env, tmp_path / "server.log", workers=2) as server:
            drive_traffic(server.base_url, upstream_url)
            yield MonitoredApp(server.base_url, upstream_url, server.log_path)
