"""The provisioned dashboard is JSON that Grafana's file provisioning can load (no Grafana runs here)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy.paths import DASHBOARD, GRAFANA


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def test_dashboard_has_what_provisioning_needs() -> None:
    found = dashboard()
    assert re.fullmatch(r"[a-z0-9-]{1,40}", found["uid"])
    assert found["title"] and isinstance(found["schemaVersion"], int)
    assert "id" not in found or found["id"] is None  # a provisioned dashboard gets its id from Grafana
    ids = [p["id"] for p in found["panels"]]
    assert len(ids) == len(set(ids))
    for panel in found["panels"]:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= grid.keys() and grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_panel_queries_the_provisioned_datasource() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (provisioned,) = source["datasources"]
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": provisioned["uid"]}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]


def test_provider_loads_the_dashboards_folder() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "xianxia.yml").read_text())
    (only,) = provider["providers"]
    assert only["type"] == "file" and only["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    exprs = " ".join(t["expr"] for p in panels() for t in p["targets"])
    for needed in (
        "xianxia_http_requests_total",  # request rate by route
        "histogram_quantile(0.99, sum by (le, route)",  # latency by route
        'status=~"5.."',  # error rate
        "xianxia_llm_requests_total",  # LLM calls
        "xianxia_llm_retries_total",
        "xianxia_llm_circuit_open",
        "xianxia_parser_decisions_total",
        "xianxia_llm_mode",
        "xianxia_llm_share",
        "sum by (path, kind, outcome) (rate(xianxia_llm_requests_total",
        "xianxia_players_active",
    ):
        assert needed in exprs, needed
