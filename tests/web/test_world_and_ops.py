"""World routes, health, readiness, OpenAPI and request ids."""

from __future__ import annotations

from pathlib import Path

from quart.typing import TestClientProtocol

from xianxia.config import Settings
from xianxia.store.base import StoreUnavailable
from xianxia.store.sqlite import SQLiteStore
from xianxia.web.app import create_app


async def test_scenes_list_every_scene_with_exits(client: TestClientProtocol) -> None:
    body = await (await client.get("/api/world/scenes")).get_json()
    ids = {scene["id"] for scene in body["scenes"]}
    assert len(ids) >= 8 and "zhucheng" in ids
    assert all(exit_id in ids for scene in body["scenes"] for exit_id in scene["exits"])


async def test_scene_detail_names_npcs_monsters_shop_and_laws(client: TestClientProtocol) -> None:
    city = (await (await client.get("/api/world/scenes/zhucheng")).get_json())["scene"]
    assert city["name"] == "主城"
    assert "CITY_NO_COMBAT" in city["laws"]
    market = (await (await client.get("/api/world/scenes/fangshi")).get_json())["scene"]
    assert any(item["id"] == "huichun_dan" for item in market["shop"]["sells"])


async def test_realms_and_laws(client: TestClientProtocol) -> None:
    realms = (await (await client.get("/api/world/realms")).get_json())["realms"]
    assert [realm["name"] for realm in realms][:5] == ["炼气", "筑基", "金丹", "元婴", "化神"]
    laws = {law["id"] for law in (await (await client.get("/api/world/laws")).get_json())["laws"]}
    assert {"CROSS_REALM_KILL", "FORBIDDEN_ARTS", "REALM_BREAKTHROUGH", "KARMA_BALANCE"} <= laws


async def test_health_and_readiness(client: TestClientProtocol) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert (await ready.get_json())["checks"]["store"] == "ok"


async def test_openapi_documents_the_player_routes(client: TestClientProtocol) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert "/api/players" in spec["paths"]
    assert "/api/players/{player_id}/act" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_request_id_is_echoed_or_generated(client: TestClientProtocol) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["X-Request-ID"]) == 32


async def test_json_keeps_chinese_readable(client: TestClientProtocol) -> None:
    raw = await (await client.get("/api/world/realms")).get_data()
    assert "炼气".encode() in raw and b"\\u" not in raw


async def test_docs_page_is_served(client: TestClientProtocol) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "openapi.json" in await docs.get_data(as_text=True)


async def test_metrics_are_served_for_the_admin_token(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", log_level="WARNING", admin_token="s3cret")
    async with create_app(settings).test_app() as running:
        client = running.test_client()
        await client.get("/api/world/realms")
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer s3cre"})
        metrics = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert anonymous.status_code == 401 and (await anonymous.get_json())["error"]["code"] == "unauthorized"
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.status_code == 403 and (await wrong.get_json())["error"]["code"] == "forbidden"
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    text = await metrics.get_data(as_text=True)
    assert 'xianxia_http_requests_total{method="GET",route="/api/world/realms",status="200"} 1.0' in text
    assert "xianxia_" not in await anonymous.get_data(as_text=True)


async def test_metrics_are_off_like_the_admin_routes_without_an_admin_token(client: TestClientProtocol) -> None:
    response = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    body = await response.get_json()
    assert body["error"]["code"] == "not_found" and "XIANXIA_METRICS_BIND" in body["error"]["message"]


async def test_with_a_metrics_bind_the_main_port_still_wants_the_admin_token(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'm.db'}", log_level="WARNING", metrics_bind="127.0.0.1:9100"
    )
    async with create_app(settings).test_app() as running:
        response = await running.test_client().get("/metrics")
    assert response.status_code == 404
    assert "127.0.0.1:9100" in (await response.get_json())["error"]["message"]


class UnreachableStore(SQLiteStore):
    """A real SQLite store whose database has gone away."""

    async def ping(self) -> None:
        raise StoreUnavailable("database file is gone")


async def test_readiness_is_503_when_the_store_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", log_level="WARNING")
    app = create_app(settings, store=UnreachableStore(tmp_path / "r.db"))
    async with app.test_app() as running:
        response = await running.test_client().get("/readyz")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["status"] == "unavailable" and "gone" in body["checks"]["store"]


async def test_openapi_documents_errors_auth_and_every_route(client: TestClientProtocol) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    act = spec["paths"]["/api/players/{player_id}/act"]["post"]
    assert {"200", "400", "401", "403", "404", "413", "415", "422"} <= set(act["responses"])
    assert act["security"] == [{"bearer": []}]
    assert "Idempotency-Key" in [parameter["name"] for parameter in act["parameters"]]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], f"{method.upper()} {path} documents no response"
