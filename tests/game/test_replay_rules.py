"""Logs written under earlier rules still replay exactly: each entry is re-run by the rules it was applied under."""

from __future__ import annotations

import json
from pathlib import Path
from random import Random
from typing import Any

import pytest

from xianxia.engine import RULES_VERSION, PlayerState, action_rng, apply_action, new_player
from xianxia.engine.intents import ParseContext
from xianxia.game.replay import ReplayError, entry_rules, replay_entries, replay_player, rules1_world
from xianxia.game.service import GameService
from xianxia.legacy.rules1 import engine as rules1
from xianxia.parsing.rules import RulesParser
from xianxia.store.base import LogEntry
from xianxia.store.sqlite import SQLiteStore
from xianxia.world import load_world

FIXTURE = Path(__file__).parent.parent / "data" / "replay_rules_v1.json"
WORLD = load_world()


def _entries(rows: list[dict[str, Any]]) -> list[LogEntry]:
    return [LogEntry(created_at=0.0, **row) for row in rows]


def _players() -> list[dict[str, Any]]:
    players: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["players"]
    return players


@pytest.mark.parametrize("index", range(3))
def test_a_log_written_by_the_rules_1_engine_replays_exactly(index: int) -> None:
    player = _players()[index]
    stored = PlayerState.model_validate(player["state"])
    entries = _entries(player["entries"])
    assert all(entry_rules(entry) == 1 for entry in entries), "the fixture predates recorded rules versions"
    report = replay_entries(WORLD, stored, entries)
    assert report.reproduced, report.differences
    assert report.replayed_version == stored.version > 30


def test_a_changed_fixture_state_is_caught() -> None:
    player = _players()[0]
    stored = PlayerState.model_validate(player["state"])
    tampered = stored.model_copy(update={"spirit_stones": stored.spirit_stones + 1})
    report = replay_entries(WORLD, tampered, _entries(player["entries"]))
    assert not report.reproduced
    assert "spirit_stones" in report.differences


def test_a_player_created_under_rules_1_who_never_acted_replays() -> None:
    first = _players()[0]["state"]
    legacy = rules1.new_player(rules1_world(), first["id"], first["name"], first["seed"])
    stored = PlayerState.model_validate(legacy.model_dump())
    assert stored.rules == 1
    report = replay_entries(WORLD, stored, [])
    assert report.reproduced, report.differences


async def test_the_service_logs_the_rules_version_and_replays_its_own_log(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "rules.db")
    await store.open()
    try:
        service = GameService(WORLD, store, RulesParser(WORLD), clock=lambda: 0.0)
        state, _token = await service.create_player("韩立")
        for text in ("去坊市", "买一颗回春丹", "攻击野狼", "回主城", "去后山", "探索", "攻击野狼", "打坐"):
            await service.act(state.id, text=text)
        entries = await service.action_log(state.id)
        assert [entry_rules(entry) for entry in entries] == [RULES_VERSION] * 8
        assert all("upgraded_from" not in entry.outcome for entry in entries)
        report = await replay_player(store, WORLD, state.id)
        assert report.reproduced, report.differences
    finally:
        await store.close()


def test_a_new_player_records_the_current_rules() -> None:
    state = new_player(WORLD, "p", "韩立", seed=1)
    assert state.rules == RULES_VERSION
    after = apply_action(WORLD, state, state_intent("look"), Random(0)).state
    assert after.rules == RULES_VERSION


def test_an_entry_of_unknown_rules_is_refused() -> None:
    player = _players()[0]
    stored = PlayerState.model_validate(player["state"])
    rows = [dict(row) for row in player["entries"]]
    rows[0] = {**rows[0], "outcome": {**rows[0]["outcome"], "rules": RULES_VERSION + 7}}
    with pytest.raises(ReplayError):
        replay_entries(WORLD, stored, _entries(rows))


def state_intent(name: str) -> Any:
    from xianxia.engine import ParsedIntent

    return ParsedIntent(intent=name)


def test_a_rules_1_log_continued_under_the_current_rules_replays_exactly() -> None:
    """The stored rules-1 player acts on under rules 2: upgraded on that action, as the replay does too."""
    player = _players()[1]
    stored = PlayerState.model_validate(player["state"])
    assert stored.rules == 1
    rows = [dict(row) for row in player["entries"]]
    state = stored
    parser = RulesParser(WORLD)
    for text in ("返回", "去主城", "去后山", "攻击野狼", "攻击野狼", "逃跑", "探索", "打坐", "和守卫说话"):
        intent = parser.interpret(text, ParseContext(scene=state.location, realm=state.realm))
        before = state
        outcome = apply_action(WORLD, state, intent, action_rng(state))
        state = outcome.state
        logged: dict[str, Any] = {"allowed": outcome.allowed, "version": state.version, "rules": state.rules}
        if before.rules != state.rules:
            logged["upgraded_from"] = before.rules
        rows.append(
            {
                "seq": len(rows) + 1,
                "version": state.version,
                "text": text,
                "intent": outcome.intent.model_dump(),
                "parser": "rules",
                "outcome": logged,
            }
        )
    assert state.rules == RULES_VERSION and state.max_hp > stored.max_hp  # stage gains granted on upgrade
    assert rows[len(player["entries"])]["outcome"]["upgraded_from"] == 1
    report = replay_entries(WORLD, state, _entries(rows))
    assert report.reproduced, report.differences
    assert not replay_entries(WORLD, stored, _entries(rows)).reproduced
