"""Security headers on every answer, a page's own CSP kept; control characters in action text refused."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol

from tests.web.conftest import Player
from xianxia.web.headers import JSON_CSP


async def test_a_json_answer_carries_the_security_headers(client: TestClientProtocol) -> None:
    response = await client.post("/api/players", json={"name": "韩立"})
    assert response.status_code == 201
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == JSON_CSP
    assert response.headers["Cache-Control"] == "no-store"  # it holds the player's token


async def test_errors_carry_them_too(client: TestClientProtocol) -> None:
    response = await client.get("/api/nowhere")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == JSON_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_web_page_keeps_its_own_csp(client: TestClientProtocol) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    page_csp = response.headers["Content-Security-Policy"]
    assert page_csp != JSON_CSP and "frame-ancestors 'none'" in page_csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("text", ["去\x00坊市", "攻击\x1b[31m野狼", "look\x7f"])
async def test_control_characters_in_action_text_are_refused(player: Player, text: str) -> None:
    response = await player.client.post(f"/api/players/{player.id}/act", json={"text": text}, headers=player.auth)
    assert response.status_code == 422
    assert "control characters" in (await response.get_json())["error"]["message"]
    assert await player.state() == player.created


async def test_newline_and_tab_are_fine_in_action_text(player: Player) -> None:
    answer = await player.act("打坐\t修炼\n")
    assert answer["intent"]["intent"] == "cultivate"
