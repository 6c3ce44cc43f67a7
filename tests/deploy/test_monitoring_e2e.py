"""Against a running app: every metric the alerts and the dashboard name exists, and a real Prometheus scrapes it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.monitored_app import ADMIN_TOKEN, MonitoredApp, monitored_app, sample_names
from tests.deploy.paths import DASHBOARD, PROMETHEUS
from tests.support.debian import require
from tests.support.server import free_port, stop

pytestmark = pytest.mark.e2e

METRIC = re.compile(r"\bxianxia_[a-z0-9_]+")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitoredApp]:
    with monitored_app(tmp_path_factory.mktemp("monitored")) as running:
        yield running


def dashboard_exprs() -> list[str]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in document["panels"] for t in p.get("targets", [])]


def rule_exprs() -> list[str]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def exposed(app: MonitoredApp) -> set[str]:
    response = httpx.get(f"{app.base_url}/metrics", headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return sample_names(response.text)


def test_every_metric_the_rules_and_dashboard_name_is_exported(app: MonitoredApp) -> None:
    names = exposed(app)
    wanted = {name for expr in rule_exprs() + dashboard_exprs() for name in METRIC.findall(expr)}
    assert len(wanted) > 15
    missing = sorted(wanted - names)
    assert not missing, f"named by alerts/dashboard but not in /metrics: {missing}"


def test_per_worker_process_metrics_carry_each_workers_pid(app: MonitoredApp) -> None:
    text = httpx.get(f"{app.base_url}/metrics", headers=ADMIN, timeout=10).text
    for name in (
        "xianxia_worker_cpu_seconds",
        "xianxia_worker_resident_memory_bytes",
        "xianxia_worker_open_fds",
        "xianxia_worker_event_loop_lag_seconds",
    ):
        pids = set(re.findall(rf'^{name}{{pid="(\d+)"}} ', text, re.M))
        assert len(pids) == 2, (name, pids)
    rss = [float(v) for v in re.findall(r'^xianxia_worker_resident_memory_bytes\{pid="\d+"} (\S+)', text, re.M)]
    assert all(v > 10_000_000 for v in rss), rss  # a Python worker holds tens of MB
    done = re.search(r'^xianxia_tasks_finished_total\{status="done"} (\S+)', text, re.M)
    assert done is not None and float(done.group(1)) >= 0


def render_prometheus_config(tmp_path: Path, target: str) -> Path:
    """deploy/prometheus/prometheus.yml aimed at `target`, its token in a file, scraping every second."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS / "alerts.yml")]
    config.pop("alerting")
    (job,) = config["scrape_configs"]
    token = tmp_path / "xianxia_admin_token"
    token.write_text(ADMIN_TOKEN + "\n")
    token.chmod(0o600)
    job["authorization"]["credentials_file"] = str(token)
    job.update(scrape_interval="1s", scrape_timeout="1s")
    job["static_configs"] = [{"targets": [target]}]
    rendered = tmp_path / "prometheus.yml"
    rendered.write_text(yaml.safe_dump(config))
    return rendered


def poll(url: str, params: dict[str, str], check: Any, *, seconds: float = 60.0) -> dict[str, Any]:
    """GET `url` until `check(json)` holds (bounded); the last answer."""
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            body = httpx.get(url, params=params, timeout=5).json()
            if check(body):
                return body
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} {params}: never satisfied; last answer {body}")


def test_real_prometheus_scrapes_the_app_and_evaluates_every_query(app: MonitoredApp, tmp_path: Path) -> None:
    binary = require("prometheus", "prometheus")
    target = app.base_url.removeprefix("http://")
    config = render_prometheus_config(tmp_path, target)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        targets = poll(
            f"{api}/targets",
            {},
            lambda b: any(t["health"] == "up" for t in b.get("data", {}).get("activeTargets", [])),
        )
        (active,) = targets["data"]["activeTargets"]
        assert active["labels"]["job"] == "xianxia" and active["lastError"] == ""
        up = poll(f"{api}/query", {"query": 'up{job="xianxia"}'}, lambda b: b.get("data", {}).get("result"))
        assert up["data"]["result"][0]["value"][1] == "1"
        actions = poll(
            f"{api}/query", {"query": "sum(xianxia_actions_total)"}, lambda b: b.get("data", {}).get("result")
        )
        assert float(actions["data"]["result"][0]["value"][1]) >= 3  # three actions, summed over both workers
        # Every dashboard and alert query parses and evaluates on real data.
        for expr in dashboard_exprs() + rule_exprs():
            query = expr.replace("$__rate_interval", "1m")
            answer = httpx.get(f"{api}/query", params={"query": query}, timeout=10).json()
            assert answer["status"] == "success", (expr, answer)
        rules = poll(
            f"{api}/rules",
            {},
            lambda b: (
                all(r.get("health") == "ok" for g in b.get("data", {}).get("groups", []) for r in g["rules"])
                and b["data"]["groups"]
            ),
        )
        loaded = [r["name"] for g in rules["data"]["groups"] for r in g["rules"]]
        assert len(loaded) == len(rule_exprs())
    finally:
        stop(process)
        assert process.returncode == 0, (tmp_path / "prometheus.log").read_text(errors="replace")[-3000:]
