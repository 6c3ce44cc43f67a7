"""Fighting monsters: victories pay out, defeats carry the player home, bad targets are refused."""

from __future__ import annotations

from random import Random

from tests.engine.helpers import WORLD, act, assert_refused, event_types, player
from xianxia.engine.combat import MAX_ROUNDS, fight

STRONG = {"attack": 100, "defense": 50, "hp": 500, "max_hp": 500, "location": "houshan"}


def test_a_strong_player_beats_the_rabbit_and_collects_its_reward() -> None:
    outcomes = [act(player(**STRONG), "attack", seed=seed, target="lingtu") for seed in range(30)]
    for outcome in outcomes:
        state = outcome.state
        assert outcome.allowed and event_types(outcome)[0] == "combat_won"
        assert state.hp == 500 and state.qi == 5 and state.kills == 1 and state.karma == 0
        assert 60 <= state.spirit_stones <= 62
        gained = [e.data["item"] for e in outcome.events if e.type == "item_gained"]
        assert state.inventory.get("lingcao", 0) == gained.count("lingcao")
    assert any("lingcao" in o.state.inventory for o in outcomes)
    assert any("lingcao" not in o.state.inventory for o in outcomes)
    assert any(o.state.spirit_stones > 60 for o in outcomes)


def test_a_kill_adds_the_monsters_karma() -> None:
    outcome = act(player(**STRONG, karma=3), "attack", target="yelang")
    assert outcome.state.karma == 4
    assert {"type": "karma_changed", "data": {"amount": 1, "karma": 4}} in [e.model_dump() for e in outcome.events]


def test_combat_qi_reward_is_capped_at_the_stage_limit() -> None:
    outcome = act(player(**STRONG, qi=95), "attack", target="yelang")
    assert outcome.state.qi == 100


def test_a_weak_player_loses_to_the_wolf_king_and_wakes_in_the_city() -> None:
    state = player(location="heifenglin")
    outcome = act(state, "attack", target="langwang")
    assert outcome.allowed and "combat_lost" in event_types(outcome)
    lost = outcome.state
    assert lost.location == "zhucheng"
    assert lost.hp == 10  # max_hp // 10
    assert lost.spirit_stones == 54  # a tenth of 60 lost
    assert lost.kills == 0 and lost.version == state.version + 1


def test_an_endless_fight_ends_in_a_draw_after_the_round_limit() -> None:
    turtle = player(location="heifenglin", attack=0, defense=500, hp=80)
    result = fight(turtle, WORLD.monsters["langwang"], Random(0))
    assert result.rounds == MAX_ROUNDS and not result.won and not result.lost
    outcome = act(turtle, "attack", target="langwang")
    assert event_types(outcome) == ["combat_drawn"]
    assert outcome.state.hp == 80 - MAX_ROUNDS and outcome.state.location == "heifenglin"


def test_the_player_strikes_first() -> None:
    one_blow = player(location="houshan", attack=1000, hp=1)
    outcome = act(one_blow, "attack", target="lingtu")
    assert "combat_won" in event_types(outcome) and outcome.state.hp == 1


def test_attacking_an_npc_is_refused_without_a_law() -> None:
    state = player(location="yiji")
    outcome = act(state, "attack", target="laodao")
    assert_refused(state, outcome)
    assert "云游老道" in outcome.intent.reason


def test_attacking_an_unknown_target_is_refused() -> None:
    state = player(location="houshan")
    assert_refused(state, act(state, "attack", target="dragon"))
    assert_refused(state, act(state, "attack"))


def test_attacking_a_monster_that_is_elsewhere_is_refused() -> None:
    state = player(location="houshan")
    outcome = act(state, "attack", target="dushe")
    assert_refused(state, outcome)
    assert "毒蛇" in outcome.intent.reason
