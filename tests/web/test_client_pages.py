"""The browser client's pages and assets: served from the package, under a strict CSP, no markup from strings."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol

from xianxia.web.routes.client import STATIC, TEMPLATES


async def test_the_client_page_has_a_strict_policy_of_its_own(client: TestClientProtocol) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    page = await response.get_data(as_text=True)
    assert '<script type="module" src="/assets/js/main.js"></script>' in page


async def test_every_asset_the_page_names_is_served(client: TestClientProtocol) -> None:
    page = await (await client.get("/")).get_data(as_text=True)
    docs = await (await client.get("/docs")).get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/(?:assets|docs/assets)/[^"]+)"', page + docs)
    assert len(assets) >= 6
    for path in assets:
        response = await client.get(path)
        assert response.status_code == 200, path


async def test_the_docs_load_swagger_ui_from_this_server(client: TestClientProtocol) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    page = await response.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page  # no CDN
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
    assert (await client.get("/docs/assets/LICENSE")).status_code == 200


async def test_only_swagger_ui_files_are_served_as_docs_assets(client: TestClientProtocol) -> None:
    for name in ("index.html", "..%2F..%2Fconfig.py", "swagger-editor-bundle.js"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404
        assert "error" in await response.get_json()


async def test_items_are_listed_for_the_inventory(client: TestClientProtocol) -> None:
    body = await (await client.get("/api/world/items")).get_json()
    names = {item["id"]: item["name"] for item in body["items"]}
    assert names["juqi_dan"] == "聚气丹"


def test_templates_have_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert "<style" not in text and " style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), f"{template.name}: inline event handler"


def test_the_scripts_never_parse_strings_as_markup() -> None:
    scripts = list(STATIC.rglob("*.js"))
    assert len(scripts) >= 8
    for script in scripts:
        text = script.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert banned not in text, f"{script.name} uses {banned}"
        assert "token=" not in text, f"{script.name}: the token never goes in a URL"
