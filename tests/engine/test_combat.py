"""Fighting monsters one round per action: the fight is kept in the state, won, lost or fled between rounds."""

from __future__ import annotations

from tests.engine.helpers import WORLD, act, assert_refused, event_types, player
from xianxia.engine import PlayerState
from xianxia.engine.combat import DEADLY, danger
from xianxia.engine.outcome import Outcome

STRONG = {"attack": 100, "defense": 50, "hp": 500, "max_hp": 500, "location": "houshan"}


def fight_out(state: PlayerState, target: str, seed: int = 0, limit: int = 60) -> list[Outcome]:
    """Attack until the fight is over (won or lost)."""
    outcomes = [act(state, "attack", seed=seed, target=target)]
    while outcomes[-1].state.fight is not None and len(outcomes) < limit:
        outcomes.append(act(outcomes[-1].state, "attack", seed=seed + len(outcomes)))
    return outcomes


def test_a_strong_player_beats_the_rabbit_in_one_blow_and_collects_its_reward() -> None:
    outcomes = [act(player(**STRONG), "attack", seed=seed, target="lingtu") for seed in range(30)]
    for outcome in outcomes:
        state = outcome.state
        assert outcome.allowed and event_types(outcome)[0] == "combat_won"
        assert state.hp == 500 and state.qi == 6 and state.kills == 1 and state.karma == 0
        assert state.fight is None
        assert 60 <= state.spirit_stones <= 62
    assert any("lingcao" in o.state.inventory for o in outcomes)
    assert any("lingcao" not in o.state.inventory for o in outcomes)


def test_one_action_is_one_round_and_the_fight_is_kept_in_the_state() -> None:
    state = player(location="houshan")
    first = act(state, "attack", target="yelang")
    assert event_types(first) == ["combat_round"]
    assert first.state.fight is not None and first.state.fight.round == 1
    assert first.state.fight.monster_hp < WORLD.monsters["yelang"].hp
    assert first.state.hp < state.hp
    assert {s.intent for s in first.suggestions} >= {"attack", "flee", "use_item"}
    second = act(first.state, "attack", seed=1)  # no target needed: the fight goes on
    assert second.allowed and (second.state.fight is None or second.state.fight.round == 2)


def test_a_fight_is_won_over_several_rounds_and_pays_out() -> None:
    outcomes = fight_out(player(location="houshan"), "yelang")
    assert len(outcomes) > 2
    last = outcomes[-1]
    assert "combat_won" in event_types(last) and last.state.fight is None
    assert last.state.kills == 1 and last.state.karma == 1


def test_a_kill_adds_the_monsters_karma() -> None:
    outcome = act(player(**STRONG, karma=3), "attack", target="yelang")
    assert outcome.state.karma == 4


def test_combat_qi_reward_is_capped_at_the_stage_limit() -> None:
    outcome = act(player(**STRONG, qi=95), "attack", target="yelang")
    assert outcome.state.qi == 100


def test_a_weak_player_loses_to_the_wolf_king_and_wakes_in_the_city() -> None:
    state = player(location="heifenglin")
    outcomes = fight_out(state, "langwang")
    lost = outcomes[-1]
    assert "combat_lost" in event_types(lost)
    assert lost.state.location == "zhucheng" and lost.state.fight is None
    assert lost.state.hp == 10  # max_hp // 10
    assert lost.state.spirit_stones == 48  # a fifth of 60 lost
    assert lost.state.kills == 0


def test_the_player_strikes_first() -> None:
    one_blow = player(location="houshan", attack=1000, hp=1)
    outcome = act(one_blow, "attack", target="lingtu")
    assert "combat_won" in event_types(outcome) and outcome.state.hp == 1


def test_fleeing_ends_the_fight_or_costs_a_blow() -> None:
    fighting = act(player(location="houshan"), "attack", target="yelang").state
    results = [act(fighting, "flee", seed=seed) for seed in range(20)]
    fled = [r for r in results if "fled" in event_types(r)]
    caught = [r for r in results if "flee_failed" in event_types(r)]
    assert fled and caught
    assert all(r.state.fight is None for r in fled)
    assert all(r.state.fight is not None and r.state.hp < fighting.hp for r in caught)


def test_a_pill_in_a_fight_takes_the_round_and_the_beast_strikes() -> None:
    fighting = act(player(location="houshan", hp=60), "attack", target="yelang").state
    outcome = act(fighting, "use_item", item="huichun_dan")
    assert event_types(outcome)[:2] == ["item_used", "combat_struck"]
    assert fighting.hp < outcome.state.hp < fighting.hp + 50


def test_a_fight_leaves_no_room_for_cultivating_or_switching_targets() -> None:
    fighting = act(player(location="houshan"), "attack", target="yelang").state
    assert_refused(fighting, act(fighting, "cultivate"))
    assert_refused(fighting, act(fighting, "rest"))
    assert_refused(fighting, act(fighting, "attack", target="lingtu"))


def test_walking_away_from_a_fight_costs_a_parting_blow() -> None:
    fighting = act(player(location="houshan"), "attack", target="yelang").state
    outcome = act(fighting, "move", target="zhucheng")
    assert outcome.state.location == "zhucheng" and outcome.state.fight is None
    assert outcome.state.hp < fighting.hp


def test_danger_grades_the_wolf_king_hopeless_for_a_beginner_and_the_rabbit_easy() -> None:
    novice = player()
    assert danger(novice, WORLD.monsters["langwang"]).level == DEADLY
    assert danger(novice, WORLD.monsters["lingtu"]).level == "轻而易举"


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
