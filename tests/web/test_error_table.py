"""The error table: each domain error answers its status, code and `Retry-After`, through the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from quart import Quart

from xianxia.config import Settings
from xianxia.game.errors import ActionContention, PlayerNotFound
from xianxia.llm.errors import LLMBadAnswer, LLMBusy, LLMTimeout, LLMUnavailable
from xianxia.store.base import StoreUnavailable
from xianxia.tasks.runner import TaskQueueFull
from xianxia.web.app import create_app
from xianxia.web.errors import ERRORS, Unauthorized

RAISED: dict[str, Exception] = {
    "contention": ActionContention(),
    "no_player": PlayerNotFound("p-1"),
    "tasks_full": TaskQueueFull("64 tasks are running"),
    "store_down": StoreUnavailable("disk gone"),
    "llm_off": LLMUnavailable("the LLM is off"),
    "llm_busy": LLMBusy("no slot"),
    "llm_timeout": LLMTimeout("deadline"),
    "llm_bad": LLMBadAnswer("not JSON"),
    "unauthorized": Unauthorized("send a bearer token", headers={"WWW-Authenticate": "Bearer"}),
    "bug": ZeroDivisionError("division by zero"),
}


@pytest.fixture
def app(tmp_path: Path) -> Quart:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}", log_level="WARNING", admin_token="s3cret"))

    @app.get("/raise/<name>")
    async def _raise(name: str) -> str:
        raise RAISED[name]

    return app


@pytest.mark.parametrize(
    ("name", "status", "code", "retry_after"),
    [
        ("contention", 409, "conflict", "1"),
        ("no_player", 404, "player_not_found", None),
        ("tasks_full", 429, "too_many_tasks", "5"),
        ("store_down", 503, "store_unavailable", "1"),
        ("llm_off", 503, "llm_unavailable", "1"),
        ("llm_busy", 429, "llm_busy", "1"),
        ("llm_timeout", 504, "llm_timeout", None),  # not a "try again later" status: no Retry-After
        ("llm_bad", 502, "llm_bad_answer", None),
        ("unauthorized", 401, "unauthorized", None),
        ("bug", 500, "internal", None),
    ],
)
async def test_each_error_answers_its_row(
    app: Quart, name: str, status: int, code: str, retry_after: str | None
) -> None:
    async with app.test_app():
        response = await app.test_client().get(f"/raise/{name}")
    assert response.status_code == status
    assert (await response.get_json())["error"]["code"] == code
    assert response.headers.get("Retry-After") == retry_after


async def test_an_api_errors_own_headers_are_sent(app: Quart) -> None:
    async with app.test_app():
        response = await app.test_client().get("/raise/unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_store_outage_is_counted(app: Quart) -> None:
    async with app.test_app():
        await app.test_client().get("/raise/store_down")
        scraped = await app.test_client().get("/metrics", headers={"Authorization": "Bearer s3cret"})
        metrics = await scraped.get_data(as_text=True)
    assert 'xianxia_store_errors_total{source="request"} 1.0' in metrics


def test_one_rule_per_exception_type() -> None:
    types = [rule.exception for rule in ERRORS]
    assert len(types) == len(set(types))
