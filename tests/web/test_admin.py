"""Admin routes: off without a token, constant-time bearer auth, mode switch visible in headers and /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from xianxia.config import Settings
from xianxia.web.app import create_app


@pytest.fixture
async def admin_client(tmp_path: Path) -> AsyncIterator[TestClientProtocol]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'game.db'}",
        log_json=True,
        log_level="WARNING",
        admin_token="s3cret",
        deepseek_api_key="sk-test",
        deepseek_base_url="https://deepseek.test",
    )
    app: Quart = create_app(settings)
    async with app.test_app() as running:
        yield running.test_client()


async def test_admin_routes_are_404_without_a_configured_token(client: TestClientProtocol) -> None:
    response = await client.get("/api/admin/mode", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"


async def test_missing_token_is_401(admin_client: TestClientProtocol) -> None:
    response = await admin_client.get("/api/admin/mode")
    assert response.status_code == 401


async def test_wrong_token_is_403_and_changes_nothing(admin_client: TestClientProtocol) -> None:
    response = await admin_client.put(
        "/api/admin/mode", json={"mode": "off"}, headers={"Authorization": "Bearer s3cre"}
    )
    assert response.status_code == 403
    mode = await admin_client.get("/api/admin/mode", headers={"Authorization": "Bearer s3cret"})
    assert (await mode.get_json())["mode"] == "async"


async def test_right_token_switches_the_mode(admin_client: TestClientProtocol) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    response = await admin_client.put("/api/admin/mode", json={"mode": "sync", "reason": "drill"}, headers=auth)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["mode"] == "sync" and body["previous"] == "async" and body["reason"] == "drill"
    assert response.headers["X-LLM-Mode"] == "sync"
    health = await admin_client.get("/readyz")
    assert (await health.get_json())["checks"]["llm"]["mode"] == "sync"


@pytest.mark.parametrize("body", [{"mode": "turbo"}, {}, {"mode": "off", "extra": True}])
async def test_bad_mode_bodies_are_422(admin_client: TestClientProtocol, body: object) -> None:
    response = await admin_client.put("/api/admin/mode", json=body, headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 422


async def test_share_is_set_and_read_back(admin_client: TestClientProtocol) -> None:
    admin = {"Authorization": "Bearer s3cret"}
    response = await admin_client.put("/api/admin/mode", json={"mode": "async", "share": 0.25}, headers=admin)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["share"] == 0.25
    body = await (await admin_client.get("/api/admin/mode", headers=admin)).get_json()
    assert body["mode"] == "async" and body["share"] == 0.25
    plain = await admin_client.put("/api/admin/mode", json={"mode": "async"}, headers=admin)
    assert (await plain.get_json())["share"] == 1.0  # no share: everyone


@pytest.mark.parametrize("share", [-0.1, 1.5, "half", True])
async def test_a_share_outside_zero_to_one_is_422(admin_client: TestClientProtocol, share: object) -> None:
    admin = {"Authorization": "Bearer s3cret"}
    response = await admin_client.put("/api/admin/mode", json={"mode": "async", "share": share}, headers=admin)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "invalid_request"


async def test_every_mode_change_is_in_the_audit_log_newest_first(admin_client: TestClientProtocol) -> None:
    admin = {"Authorization": "Bearer s3cret", "X-Request-ID": "drill-1"}
    for body in ({"mode": "async", "share": 0.25, "reason": "rollout 25%"}, {"mode": "off", "reason": "drill"}):
        response = await admin_client.put("/api/admin/mode", json=body, headers=admin)
        assert response.status_code == 200, await response.get_data(as_text=True)

    response = await admin_client.get("/api/admin/audit", headers=admin)
    assert response.status_code == 200
    newest, oldest = (await response.get_json())["entries"]
    assert (oldest["from"], oldest["to"]) == (None, {"mode": "async", "share": 0.25})
    assert (newest["from"], newest["to"]) == ({"mode": "async", "share": 0.25}, {"mode": "off", "share": 1.0})
    assert (newest["changed_by"], newest["cause"], newest["reason"]) == ("admin", "manual", "drill")
    assert newest["origin"].endswith("request drill-1") and newest["figures"] is None
    assert newest["at"] >= oldest["at"] > 0
    mode = await (await admin_client.get("/api/admin/mode", headers=admin)).get_json()
    assert mode["updated_at"] == newest["at"]

    bounded = await (await admin_client.get("/api/admin/audit?limit=1", headers=admin)).get_json()
    assert [entry["id"] for entry in bounded["entries"]] == [newest["id"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=many"])
async def test_a_bad_audit_limit_is_422(admin_client: TestClientProtocol, query: str) -> None:
    response = await admin_client.get(f"/api/admin/audit?{query}", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "invalid_request"


async def test_the_audit_log_needs_the_admin_token(admin_client: TestClientProtocol) -> None:
    assert (await admin_client.get("/api/admin/audit")).status_code == 401
    assert (await admin_client.get("/api/admin/audit", headers={"Authorization": "Bearer no"})).status_code == 403
