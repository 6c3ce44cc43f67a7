"""The assembled services: what `Services.build` wires together, and that it all opens and closes in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import make_player
from tests.web.llm_upstream import BASE_URL, Upstream
from xianxia.config import Settings
from xianxia.llm.errors import LLMError
from xianxia.store.base import StoreUnavailable
from xianxia.web.app import create_app
from xianxia.web.services import Services
from xianxia.world import load_world


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'game.db'}",
        log_level="WARNING",
        deepseek_api_key="sk-test",
        deepseek_base_url=BASE_URL,
        llm_mode="async",
        llm_max_retries=1,
    )


def parse_prompts(upstream: Upstream) -> list[dict[str, object]]:
    """The user messages of the intent-parse requests the upstream received."""
    return [
        json.loads(body["messages"][-1]["content"])
        for body in upstream.requests
        if body.get("response_format", {}).get("type") == "json_object"
    ]


async def test_an_action_in_async_mode_sends_the_targets_realm_upstream(settings: Settings) -> None:
    upstream = Upstream()
    upstream.intent = {"intent": "attack", "slots": {"target": "chiyanhu"}, "allowed": True, "reason": ""}
    app = create_app(settings, llm_transport=upstream.transport(), llm_sync_transport=upstream.sync_transport())
    async with app.test_app() as running:
        player = await make_player(running.test_client())
        answer = await player.act("攻击赤焰虎")
    assert answer["parser"] == "llm"
    tiger = load_world().monsters["chiyanhu"]
    assert [prompt["target_realm"] for prompt in parse_prompts(upstream)] == [tiger.realm]
    assert upstream.paths == ["async"]


async def test_the_llm_parser_and_dialogue_are_wired_only_with_a_key(settings: Settings) -> None:
    with_key = Services.build(settings)
    without = Services.build(settings.model_copy(update={"deepseek_api_key": None}))
    assert with_key.client is not None and with_key.dialogue is not None and with_key.parser is not with_key.rules
    assert without.client is None and without.dialogue is None and without.parser is without.rules


async def test_an_upstream_401_reaches_the_kill_switch_and_turns_the_llm_off(settings: Settings) -> None:
    upstream = Upstream()
    upstream.status = 401
    found = Services.build(settings, llm_transport=upstream.transport(), llm_sync_transport=upstream.sync_transport())
    await found.start()
    try:
        assert found.client is not None
        with pytest.raises(LLMError):
            await found.client.chat("你好")
        await found.kill_switch.settle()
        assert (found.modes.requested, found.modes.state.changed_by) == ("off", "upstream")
        assert found.metrics.registry.get_sample_value("xianxia_llm_fatal_total", {"status": "401"}) == 1
    finally:
        await found.aclose()


class Recorded:
    """Stands in for one service: forwards every call to it and notes its life-cycle calls in a shared list."""

    def __init__(self, name: str, service: Any, calls: list[str]) -> None:
        self._name, self._service, self._calls = name, service, calls

    def __getattr__(self, attribute: str) -> Any:
        found = getattr(self._service, attribute)
        if attribute not in {"open", "start", "bind", "stop", "close", "aclose"}:
            return found

        def call(*args: Any) -> Any:
            self._calls.append(f"{attribute} {self._name}")
            return found(*args)

        return call


async def test_every_service_is_opened_in_order_and_closed_last_opened_first(settings: Settings) -> None:
    found = Services.build(settings, llm_transport=Upstream().transport())
    calls: list[str] = []
    for name in ("store", "modes", "kill_switch", "rollback", "client", "tasks", "sampler", "retention"):
        setattr(found, name, Recorded(name, getattr(found, name), calls))
    await found.start()
    assert found.client is not None and found.client.is_open
    await found.aclose()
    await found.aclose()  # idempotent: nothing is closed twice
    assert calls == [
        "open store",
        "start modes",
        "bind kill_switch",
        "start rollback",
        "start client",
        "start tasks",
        "start sampler",
        "start retention",
        "stop retention",
        "stop sampler",
        "stop tasks",
        "aclose client",
        "stop rollback",
        "aclose kill_switch",
        "stop modes",
        "close store",
    ]
    assert not found.client.is_open
    with pytest.raises(StoreUnavailable, match="not open"):
        await found.store.ping()


async def test_a_failed_start_closes_what_it_had_opened(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "game.db").mkdir()  # the store cannot open a directory as its file
    found = Services.build(settings)
    calls: list[str] = []
    found.store = Recorded("store", found.store, calls)
    found.modes = Recorded("modes", found.modes, calls)
    with pytest.raises(StoreUnavailable):
        await found.start()
    assert calls == ["open store"]  # the store failed to open: nothing was started, so nothing is closed


def decisions(found: Services, decision: str) -> float:
    value = found.metrics.registry.get_sample_value("xianxia_parser_decisions_total", {"decision": decision})
    return value or 0.0


@pytest.mark.parametrize(
    ("key", "mode", "rules_only"),
    [(None, "async", 1.0), ("sk-test", "async", 0.0), ("sk-test", "off", 1.0)],
    ids=["no-llm-parser", "llm-on", "llm-off"],
)
async def test_rules_only_is_counted_once_per_action_parsed_without_the_llm(
    settings: Settings, key: str | None, mode: str, rules_only: float
) -> None:
    upstream = Upstream()
    upstream.intent = {"intent": "cultivate", "slots": {}, "allowed": True, "reason": ""}
    settings = settings.model_copy(update={"deepseek_api_key": key, "llm_mode": mode})
    app = create_app(settings, llm_transport=upstream.transport())
    found: Services = app.extensions["xianxia"]
    async with app.test_app() as running:
        player = await make_player(running.test_client())
        await player.act("打坐修炼")
    assert decisions(found, "rules_only") == rules_only
    assert (
        found.metrics.registry.get_sample_value(
            "xianxia_actions_total",
            {"intent": "cultivate", "allowed": "true", "parser": "llm" if rules_only == 0 else "rules"},
        )
        == 1
    )


async def test_failing_calls_reach_the_watch_which_rolls_back_and_a_raised_mode_closes_the_circuit(
    settings: Settings,
) -> None:
    upstream = Upstream()
    upstream.status = 500
    watched = settings.model_copy(
        update={"rollback_min_calls": 6, "llm_breaker_failures": 3, "rollback_interval_seconds": 3600.0}
    )
    found = Services.build(watched, llm_transport=upstream.transport(), llm_sync_transport=upstream.sync_transport())
    await found.start()
    try:
        assert found.client is not None
        await found.modes.set("async", changed_by="admin", reason="on")
        for n in range(6):  # three reach the upstream and open the circuit, three fail fast: all six are errors
            with pytest.raises(LLMError):
                await found.client.chat_async(f"问道{n}")
        assert found.client.circuit_state == "open"
        figures = await found.rollback.tick()
        assert figures is not None and (figures.calls, figures.errors) == (6, 6)
        assert (found.modes.requested, found.modes.state.changed_by) == ("off", "rollback")
        rollbacks = found.metrics.registry.get_sample_value("xianxia_llm_rollbacks_total", {"reason": "error_rate"})
        assert rollbacks == 1 and found.metrics.registry.get_sample_value("xianxia_llm_rolled_back") == 1

        upstream.status = 200  # fixed; the operator raises the mode again
        await found.modes.set("async", changed_by="admin", share=0.05, reason="again")
        assert found.client.circuit_state == "closed"
        assert found.metrics.registry.get_sample_value("xianxia_llm_rolled_back") == 0
        assert (await found.client.chat_async("再问"))["text"]
    finally:
        await found.aclose()
