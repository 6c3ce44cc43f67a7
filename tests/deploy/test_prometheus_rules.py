"""The alert rules pass promtool's checks and unit tests, and those tests can tell a broken rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.paths import PROMETHEUS
from tests.support.debian import require


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool", "prometheus")


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def alert_names(path: Path) -> list[str]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return [rule["alert"] for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names(PROMETHEUS / 'alerts.yml'))} rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_sees_it_fire() -> None:
    tests: dict[str, Any] = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(alert_names(PROMETHEUS / "alerts.yml")) <= fired


def test_the_old_plans_thresholds() -> None:
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert rules["XianxiaLLMErrorRateWarning"]["expr"].strip().endswith("> 0.05")
    assert rules["XianxiaLLMErrorRateCritical"]["expr"].strip().endswith("> 0.10")
    assert "histogram_quantile(0.95" in rules["XianxiaLLMLatencyP95High"]["expr"]
    assert rules["XianxiaLLMLatencyP95High"]["expr"].strip().endswith("> 5")
    assert "histogram_quantile(0.99" in rules["XianxiaLLMLatencyP99Critical"]["expr"]
    assert rules["XianxiaLLMLatencyP99Critical"]["expr"].strip().endswith("> 10")
    assert {
        rules[name]["labels"]["severity"] for name in ("XianxiaLLMErrorRateCritical", "XianxiaLLMLatencyP99Critical")
    } == {"critical"}


@pytest.mark.parametrize(
    ("original", "broken"),
    [
        ("> 0.05", "> 0.5"),  # a warning threshold ten times too lax
        ('sum(xianxia_llm_circuit_open{state="open"}) > 0', 'sum(xianxia_llm_circuit_open{state="closed"}) > 0'),
        ("max(xianxia_llm_rolled_back) > 0", "min(xianxia_llm_rolled_back) > 1"),
    ],
)
def test_the_unit_tests_catch_a_broken_rule(promtool: str, tmp_path: Path, original: str, broken: str) -> None:
    rules = (PROMETHEUS / "alerts.yml").read_text()
    assert original in rules
    (tmp_path / "alerts.yml").write_text(rules.replace(original, broken, 1))
    shutil.copy(PROMETHEUS / "alerts_test.yml", tmp_path / "alerts_test.yml")
    result = run(promtool, "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout + result.stderr


def test_scrape_config_is_valid_with_its_token_file(promtool: str, tmp_path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["authorization"]["type"] == "Bearer"  # /metrics is closed to anonymous callers
    token = tmp_path / "xianxia_admin_token"
    token.write_text("secret\n")
    job["authorization"]["credentials_file"] = str(token)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
