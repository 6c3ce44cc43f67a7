"""Write docs/API.md from the app's own OpenAPI document and its error-code table.

python -m tests.support.api_reference          # rewrite docs/API.md  (make api-docs)
python -m tests.support.api_reference --check  # exit 1 if docs/API.md is not what the code describes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from xianxia.config import Settings
from xianxia.web.app import create_app
from xianxia.web.error_codes import ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]

TARGET = ROOT / "docs" / "API.md"
BASE = "http://127.0.0.1:8000"

#: Example bodies for the routes a newcomer calls first; other bodies are built from their schema.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/players"): {"name": "韩立"},
    ("post", "/api/players/{player_id}/act"): {"text": "去坊市"},
    ("post", "/api/llm/chat"): {"prompt": "用一句话介绍青云宗"},
    ("post", "/api/llm/chat/sync"): {"prompt": "用一句话介绍青云宗"},
    ("post", "/api/llm/parse"): {"utterance": "打坐修炼", "context": {"scene": "zhucheng", "realm": "lianqi"}},
    ("post", "/api/llm/batch"): {"prompts": ["你好", "再见"]},
    ("put", "/api/admin/mode"): {"mode": "off", "reason": "upstream incident"},
}


async def openapi_document() -> dict[str, Any]:
    """The document the running app serves at /openapi.json, with every optional route switched on."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            database_url=f"sqlite:///{directory}/api.db",
            admin_token="docs",
            deepseek_api_key="docs",
            log_level="ERROR",
            log_json=True,
        )
        app = create_app(settings)
        response = await app.test_client().get("/openapi.json")
        document: dict[str, Any] = await response.get_json()
        return document


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def type_of(schema: dict[str, Any], document: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in schema:
        return " or ".join(type_of(option, document) for option in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}), document)}"
    return str(kind)


def limits(schema: dict[str, Any]) -> str:
    words = []
    for key, label in (
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("exclusiveMinimum", ">"),
        ("exclusiveMaximum", "<"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("pattern", "pattern"),
    ):
        if key in schema:
            value = f"`{schema[key]}`" if key == "pattern" else schema[key]
            words.append(f"{label} {value}")
    if "default" in schema and schema["default"] is not None:
        words.append(f"default `{json.dumps(schema['default'], ensure_ascii=False)}`")
    return ", ".join(words)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_table(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    schema = resolve(schema, document)
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    lines = ["| field | type | required | limits | description |", "| --- | --- | --- | --- | --- |"]
    for name, prop in properties.items():
        lines.append(
            f"| `{name}` | {cell(type_of(prop, document))} | {'yes' if name in required else 'no'} "
            f"| {cell(limits(prop))} | {cell(prop.get('description', ''))} |"
        )
    return lines


def example_body(method: str, path: str, schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    if (method, path) in EXAMPLES:
        return EXAMPLES[(method, path)]
    schema = resolve(schema, document)
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = resolve(schema["properties"][name], document)
        body[name] = {"string": "…", "integer": 1, "number": 0.5, "boolean": True, "array": []}.get(
            prop.get("type", "string"), "…"
        )
    return body


def wants_admin(path: str) -> bool:
    """Routes behind the admin token rather than a player's."""
    return path.startswith("/api/admin") or path == "/metrics"


def examples(method: str, path: str, op: dict[str, Any], body: dict[str, Any] | None) -> list[str]:
    """The same call in cURL, Python (httpx) and JavaScript (fetch); tests/deploy/test_api_examples.py runs them."""
    admin = wants_admin(path)
    needs_token = bool(op.get("security"))
    json_answer = path not in ("/metrics", "/api/llm/chat/stream")  # text: Prometheus, Server-Sent Events
    data = json.dumps(body, ensure_ascii=False) if body is not None else None

    shell_path = path.replace("{player_id}", "$PLAYER_ID").replace("{scene_id}", "zhucheng")
    shell_path = shell_path.replace("{task_id}", "$TASK_ID")
    curl = [f'curl -s -X {method.upper()} "{BASE}{shell_path}"']
    if needs_token:
        curl.append(f'-H "Authorization: Bearer {"$ADMIN_TOKEN" if admin else "$TOKEN"}"')
    if data is not None:
        curl += ["-H 'Content-Type: application/json'", f"-d '{data}'"]
    curl = [line + " \\" for line in curl[:-1]] + curl[-1:]
    curl = curl[:1] + ["  " + line for line in curl[1:]]

    py_path = path.replace("{scene_id}", "zhucheng")
    arguments = [f'f"{BASE}{py_path}"' if "{" in py_path else f'"{BASE}{py_path}"']
    if needs_token:
        arguments.append(f'headers={{"Authorization": f"Bearer {{{"admin_token" if admin else "token"}}}"}}')
    if data is not None:
        arguments.append(f"json={data}")
    python = [
        "import httpx",
        "",
        f"answer = httpx.{method}({', '.join(arguments)})",
        f"print(answer.status_code, answer.{'json()' if json_answer else 'text'})",
    ]

    js_path = path.replace("{player_id}", "${playerId}").replace("{scene_id}", "zhucheng")
    js_path = js_path.replace("{task_id}", "${taskId}")
    options = [f'method: "{method.upper()}"']
    headers = []
    if needs_token:
        headers.append(f"Authorization: `Bearer ${{{'adminToken' if admin else 'token'}}}`")
    if data is not None:
        headers.append('"Content-Type": "application/json"')
    if headers:
        options.append("headers: { " + ", ".join(headers) + " }")
    if data is not None:
        options.append(f"body: JSON.stringify({data})")
    js = [
        f"const answer = await fetch(`{BASE}{js_path}`, {{ {', '.join(options)} }});",
        f"console.log(answer.status, await answer.{'json()' if json_answer else 'text()'});",
    ]
    return ["```sh", *curl, "```", "", "```python", *python, "```", "", "```js", *js, "```"]


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    out = [
        f"# API reference — {info['title']} {info['version']}",
        "",
        "Generated from the app's OpenAPI document (`GET /openapi.json`) and its error-code table",
        "(`xianxia/web/error_codes.py`) by `python -m tests.support.api_reference` (`make api-docs`); a test fails",
        "when this file is out of date. Browse the same document interactively at `GET /docs`.",
        "",
        'Every answer is JSON; every error is `{"error": {"code", "message"}}` (a 422 adds `fields`).',
        "Every answer carries `X-Request-ID` (yours, if you sent a valid one) and `X-LLM-Mode`.",
        "The examples assume a server on 127.0.0.1:8000 and these shell / program variables:",
        "`PLAYER_ID` and `TOKEN` from `POST /api/players`, `ADMIN_TOKEN` = `XIANXIA_ADMIN_TOKEN`,",
        '`TASK_ID` from a `"mode": "task"` batch (in Python and JavaScript: `player_id`/`playerId`,',
        "`token`, `admin_token`/`adminToken`, `task_id`/`taskId`). tests/deploy/test_api_examples.py runs",
        "every example below, in all three languages, against a running server.",
        "",
        info.get("description", ""),
        "",
        "## Routes",
        "",
    ]
    paths: dict[str, Any] = document["paths"]
    index = []
    for path, operations in paths.items():
        for method, op in operations.items():
            index.append(f"- [`{method.upper()} {path}`](#{anchor(method, path)}) — {op.get('summary', '')}")
    out += [*index, ""]
    for path, operations in paths.items():
        for method, op in operations.items():
            out += [f"### {method.upper()} {path}", "", op.get("summary", "")]
            if op.get("description"):
                out += ["", op["description"]]
            out.append("")
            if op.get("security"):
                who = "the admin token (`XIANXIA_ADMIN_TOKEN`)" if wants_admin(path) else "the player's token"
                out += [f"Needs `Authorization: Bearer` with {who}.", ""]
            parameters = op.get("parameters", [])
            if parameters:
                out += ["| parameter | in | type | required | description |", "| --- | --- | --- | --- | --- |"]
                for p in parameters:
                    out.append(
                        f"| `{p['name']}` | {p['in']} | {cell(type_of(p.get('schema', {}), document))} "
                        f"| {'yes' if p.get('required') else 'no'} | {cell(p.get('description', ''))} |"
                    )
                out.append("")
            body = None
            request = op.get("requestBody", {}).get("content", {}).get("application/json")
            if request is not None:
                table = fields_table(request["schema"], document)
                if table:
                    out += ["Body:", "", *table, ""]
                body = example_body(method, path, request["schema"], document)
            statuses = sorted(op.get("responses", {}), key=int)
            if statuses:
                out += [
                    "Answers: "
                    + ", ".join(statuses)
                    + " (the codes of each error status: [Error codes](#error-codes)).",
                    "",
                ]
            out += examples(method, path, op, body)
            out.append("")
    out += [
        "## Error codes",
        "",
        "| status | `code` | cause | what to do |",
        "| --- | --- | --- | --- |",
    ]
    for entry in sorted(ERROR_CODES, key=lambda e: (e.status, e.code)):
        out.append(f"| {entry.status} | `{entry.code}` | {cell(entry.cause)} | {cell(entry.remedy)} |")
    out.append("")
    return "\n".join(out)


def anchor(method: str, path: str) -> str:
    text = f"{method} {path}".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/API.md is out of date")
    args = parser.parse_args()
    text = render(asyncio.run(openapi_document()))
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print("docs/API.md is out of date: run `make api-docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
