"""Every cURL, Python and JavaScript example of docs/API.md runs against a real server and gets a 2xx answer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.debian import require
from tests.support.fakellm.process import fake_upstream
from tests.support.server import ROOT, hypercorn_server

pytestmark = pytest.mark.e2e

DOC_BASE = "http://127.0.0.1:8000"
ADMIN_TOKEN = "examples-admin"
BLOCK = re.compile(r"```(sh|python|js)\n(.*?)```", re.S)


def sections() -> list[tuple[str, dict[str, str]]]:
    """(heading, {language: code}) of every route in docs/API.md, in the document's order."""
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    found = []
    for chunk in text.split("\n### ")[1:]:
        heading = chunk.splitlines()[0]
        found.append((heading, {lang: code for lang, code in BLOCK.findall(chunk)}))
    return found


def test_examples_run(tmp_path: Path) -> None:
    curl = require("curl", "curl")
    node = shutil.which("node")
    assert node, "node is missing: the JavaScript examples run on Node.js (Debian package nodejs)"
    with fake_upstream(tmp_path / "fakellm.log") as upstream:
        env = {
            "XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'examples.db'}",
            "XIANXIA_ADMIN_TOKEN": ADMIN_TOKEN,
            "DEEPSEEK_API_KEY": "fake-key",
            "DEEPSEEK_BASE_URL": upstream,
            "XIANXIA_LLM_OPEN": "1",
        }
        with hypercorn_server(env, tmp_path / "server.log", workers=1) as server:
            created = httpx.post(f"{server.base_url}/api/players", json={"name": "样例"}).json()
            player_id, token = created["player"]["id"], created["token"]
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            task = httpx.post(
                f"{server.base_url}/api/llm/batch", json={"prompts": ["甲"], "mode": "task"}, headers=admin
            ).json()
            variables = {"PLAYER_ID": player_id, "TOKEN": token, "ADMIN_TOKEN": ADMIN_TOKEN, "TASK_ID": task["task_id"]}
            shell_env = {**os.environ, **variables}
            prelude_py = "".join(f"{k.lower()} = {json.dumps(v)}\n" for k, v in variables.items())
            prelude_js = (
                f"const playerId = {json.dumps(player_id)}, token = {json.dumps(token)}, "
                f"adminToken = {json.dumps(ADMIN_TOKEN)}, taskId = {json.dumps(task['task_id'])};\n"
            )
            ran = 0
            for heading, blocks in sections():
                assert set(blocks) == {"sh", "python", "js"}, heading
                code = {lang: body.replace(DOC_BASE, server.base_url) for lang, body in blocks.items()}
                shell = subprocess.run(
                    ["bash", "-c", code["sh"].replace("curl ", f"{curl} -w '\\n%{{http_code}}' ", 1)],
                    env=shell_env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                python = subprocess.run(
                    [sys.executable, "-c", prelude_py + code["python"]], capture_output=True, text=True, timeout=60
                )
                js = subprocess.run(
                    [node, "--input-type=module", "-e", prelude_js + code["js"]],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                statuses = {
                    "sh": shell.stdout.strip().rsplit("\n", 1)[-1],
                    "python": python.stdout.split(" ", 1)[0],
                    "js": js.stdout.split(" ", 1)[0],
                }
                for lang, result in (("sh", shell), ("python", python), ("js", js)):
                    assert result.returncode == 0, (heading, lang, result.stderr)
                    assert statuses[lang] in ("200", "201", "202"), (heading, lang, result.stdout[:500])
                ran += 1
            assert ran >= 18
