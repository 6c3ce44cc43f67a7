"""Every law of the default world, the judge's independence from what a parser claims, and data-driven laws."""

from __future__ import annotations

import dataclasses
from random import Random

import pytest

from tests.engine.helpers import WORLD, act, assert_refused, event_types, intent, player, texts
from xianxia.engine import ParsedIntent, apply_action, judge
from xianxia.world.schema import ForbidIntentLaw


@pytest.mark.parametrize("target", ["yelang", "shouwei", "chiyanhu", "no_such_thing", "大魔头"])
def test_city_no_combat_refuses_any_target_in_zhucheng(target: str) -> None:
    state = player()
    outcome = act(state, "attack", target=target)
    assert_refused(state, outcome, "CITY_NO_COMBAT")
    assert outcome.intent.reason == next(law.reason for law in WORLD.laws if law.id == "CITY_NO_COMBAT")
    # The beast is not in the city: that is said first, then the law that would forbid it anyway.
    if target in WORLD.monsters:
        assert outcome.narration.startswith(f"{WORLD.monsters[target].name}不在主城")
        assert "主城禁斗" in outcome.narration
    assert event_types(outcome)[-1] == "law_refused"


def test_city_no_combat_refuses_an_attack_without_target() -> None:
    state = player()
    assert_refused(state, act(state, "attack"), "CITY_NO_COMBAT")


def test_city_no_combat_suggests_leaving_for_a_fighting_ground_and_cultivating_first() -> None:
    outcome = act(player(), "attack", target="yelang")
    assert texts(outcome)[:2] == ["去后山", "打坐修炼"]
    assert outcome.suggestions[0].intent == "move" and outcome.suggestions[0].slots == {"target": "houshan"}
    assert len(texts(outcome)) == len(set(texts(outcome)))


def test_city_no_combat_suggests_any_exit_when_no_neighbour_allows_fighting() -> None:
    outcome = act(player(location="fangshi"), "attack", target="yelang")
    assert outcome.intent.law == "CITY_NO_COMBAT"
    assert set(texts(outcome)[:3]) == {"去主城", "去客栈", "打坐修炼"}


def test_sect_no_brawl_refuses_attacks_in_the_sect_and_suggests_cultivating_or_talking() -> None:
    state = player(location="zongmen")
    outcome = act(state, "attack", target="zhangmen")
    assert_refused(state, outcome, "SECT_NO_BRAWL")
    assert texts(outcome)[:3] == ["打坐修炼", "和青云掌门说话", "和传功长老说话"]


def test_forbidden_land_gate_keeps_lianqi_out_and_lets_zhuji_in() -> None:
    lianqi = player(location="heifenglin")
    assert_refused(lianqi, act(lianqi, "move", target="jindi"), "FORBIDDEN_LAND_GATE")
    zhuji = player(location="heifenglin", realm="zhuji")
    entered = act(zhuji, "move", target="jindi")
    assert entered.allowed and entered.state.location == "jindi"


def test_cross_realm_kill_forbids_a_lianqi_player_attacking_the_jindan_tiger() -> None:
    state = player(location="heifenglin")
    outcome = act(state, "attack", target="chiyanhu")
    assert_refused(state, outcome, "CROSS_REALM_KILL")


def test_cross_realm_kill_allows_a_gap_of_one_realm() -> None:
    verdict = judge(WORLD, "heifenglin", "zhuji", intent("attack", target="chiyanhu"))
    assert verdict.allowed and verdict.law is None


def test_forbidden_arts_refuses_the_blood_art_even_when_held() -> None:
    state = player(inventory={"xueji_mishu": 1})
    outcome = act(state, "use_item", item="xueji_mishu")
    assert_refused(state, outcome, "FORBIDDEN_ARTS")
    assert "使用血祭秘术" not in texts(outcome)


def test_judge_ignores_a_lying_allowed_true() -> None:
    lying = ParsedIntent(intent="attack", slots={"target": "yelang"}, allowed=True, reason="", law=None)
    verdict = judge(WORLD, "zhucheng", "lianqi", lying)
    assert (verdict.allowed, verdict.law) == (False, "CITY_NO_COMBAT")
    assert verdict.intent == "attack" and verdict.slots == {"target": "yelang"}


def test_judge_ignores_a_lying_refusal() -> None:
    lying = ParsedIntent(intent="cultivate", allowed=False, reason="天道不允", law="MADE_UP")
    verdict = judge(WORLD, "zhucheng", "lianqi", lying)
    assert (verdict.allowed, verdict.reason, verdict.law) == (True, "", None)


def test_apply_action_carries_out_an_intent_a_parser_wrongly_refused() -> None:
    state = player()
    lying = ParsedIntent(intent="cultivate", allowed=False, reason="不许", law="CITY_NO_COMBAT")
    outcome = apply_action(WORLD, state, lying, Random(1))
    assert outcome.allowed and outcome.intent.law is None and outcome.state.version == 1


def test_judge_accepts_an_unknown_scene_and_realm() -> None:
    verdict = judge(WORLD, "nowhere", "immortal", intent("attack", target="chiyanhu"))
    assert verdict.law == "CROSS_REALM_KILL"
    assert judge(WORLD, "nowhere", "immortal", intent("look")).allowed


def test_laws_come_from_the_world_data() -> None:
    no_explore = ForbidIntentLaw(
        kind="forbid_intent", id="NO_WANDERING", name="禁游", intents=("explore",), reason="天下禁游。"
    )
    without_city_law = tuple(law for law in WORLD.laws if law.id != "CITY_NO_COMBAT")
    custom = dataclasses.replace(WORLD, laws=(*without_city_law, no_explore))
    state = player()
    wander = apply_action(custom, state, intent("explore"), Random(0))
    assert_refused(state, wander, "NO_WANDERING")
    assert wander.narration.endswith("天下禁游。")
    brawl = apply_action(custom, state, intent("attack", target="yelang"), Random(0))
    assert_refused(state, brawl, None)
