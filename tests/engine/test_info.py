"""Status, inventory, help and the answer to what no parser understood."""

from __future__ import annotations

from random import Random

from tests.engine.helpers import WORLD, act, assert_refused, player
from xianxia.engine import ParsedIntent, apply_action, stage_name


def test_status_describes_the_player_and_still_bumps_the_version() -> None:
    outcome = act(player(stage=3, qi=42, karma=2), "status")
    assert outcome.allowed and outcome.state.version == 1
    for fragment in ("韩立", "三灵根", "炼气三层", "42/150", "100/100", "60", "主城"):
        assert fragment in outcome.narration


def test_stage_names_read_as_layers_or_four_phases() -> None:
    assert stage_name(WORLD, player(stage=9)) == "炼气九层"
    assert stage_name(WORLD, player(realm="zhuji", stage=2)) == "筑基中期"


def test_inventory_names_items_and_counts() -> None:
    outcome = act(player(inventory={"huichun_dan": 2, "langpi": 1}), "inventory")
    assert "回春丹×2" in outcome.narration and "狼皮×1" in outcome.narration
    assert "空空如也" in act(player(inventory={}), "inventory").narration


def test_help_lists_the_examples_of_the_world_vocabulary() -> None:
    outcome = act(player(), "help")
    assert outcome.allowed
    for vocabulary in WORLD.intents.values():
        assert vocabulary.example in outcome.narration


def test_unknown_is_refused_with_the_parsers_hint_and_what_can_be_said() -> None:
    state = player()
    hint = "也许你想说：打坐修炼 / 去坊市"
    outcome = apply_action(WORLD, state, ParsedIntent(intent="unknown", reason=hint), Random(0))
    assert_refused(state, outcome)
    assert outcome.intent.reason == hint
    assert outcome.narration.startswith(hint) and "打坐修炼" in outcome.narration


def test_unknown_without_a_hint_and_an_unheard_of_intent_are_refused() -> None:
    state = player()
    assert_refused(state, act(state, "unknown"))
    assert_refused(state, act(state, "dance"))


def test_a_refusal_uses_no_randomness() -> None:
    state = player()
    for name, slots in [("attack", {"target": "yelang"}), ("move", {"target": "mars"}), ("unknown", {})]:
        rng = Random(9)
        before = rng.getstate()
        apply_action(WORLD, state, ParsedIntent(intent=name, slots=slots), rng)
        assert rng.getstate() == before
