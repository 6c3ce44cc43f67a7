"""World routes, health, readiness, OpenAPI and request ids."""

from __future__ import annotations

from quart.typing import TestClientProtocol


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
