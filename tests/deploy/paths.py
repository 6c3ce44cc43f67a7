"""Where the deploy kit lives."""

from __future__ import annotations

from tests.support.server import ROOT

DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "xianxia.json"
