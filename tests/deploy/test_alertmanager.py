"""The Alertmanager example is a valid configuration that pages on critical and chats on warning."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.paths import PROMETHEUS
from tests.support.debian import require


@pytest.fixture(scope="module")
def amtool() -> str:
    return require("amtool", "prometheus-alertmanager")


def test_amtool_check_config(amtool: str) -> None:
    result = subprocess.run(
        [amtool, "check-config", "alertmanager.yml"], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=XianxiaLLMAutomaticRollback"], "on-call-pager"),
        (["severity=warning", "alertname=XianxiaLLMCircuitOpen"], "team-chat"),
        (["alertname=SomethingUnlabelled"], "team-chat"),
    ],
)
def test_routes(amtool: str, labels: list[str], receiver: str) -> None:
    result = subprocess.run(
        [amtool, "config", "routes", "test", "--config.file=alertmanager.yml", *labels],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]
