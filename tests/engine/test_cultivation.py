"""Cultivating, resting and breaking through, with the tribulation and karma laws."""

from __future__ import annotations

from random import Random

import pytest

from tests.engine.helpers import WORLD, act, assert_refused, event_types, player
from xianxia.engine import Outcome, PlayerState, breakthrough_odds

TRIALS = 2000
#: About four standard deviations of a rate observed over TRIALS attempts.
TOLERANCE = 0.045

LIANQI_PEAK = {"stage": 9, "qi": 300}  # 炼气九层 needs 100 * (1 + 0.25 * 8) qi


def success_rate(state: PlayerState) -> float:
    wins = sum("breakthrough" in event_types(act(state, "breakthrough", seed=seed)) for seed in range(TRIALS))
    return wins / TRIALS


def first_outcome(state: PlayerState, event: str) -> Outcome:
    """The breakthrough outcome of the first seed that produces `event`."""
    for seed in range(200):
        outcome = act(state, "breakthrough", seed=seed)
        if event in event_types(outcome):
            return outcome
    raise AssertionError(f"no seed produced {event}")


def test_cultivate_gains_base_qi_times_root_and_density_with_seeded_jitter() -> None:
    outcome = act(player(location="zongmen", root="shuang"), "cultivate", seed=3)
    # With qi below half the stage no qi deviation is drawn: the first draw is the jitter.
    expected = round(6 * 1.3 * 2.0 * Random(3).uniform(0.8, 1.2))
    assert outcome.state.qi == expected
    assert outcome.events[0].type == "qi_gained" and outcome.events[0].data["amount"] == expected
    assert outcome.state.version == 1


def test_cultivate_caps_qi_at_the_stage_limit() -> None:
    outcome = act(player(location="lingquan", root="tian", qi=90), "cultivate")
    assert outcome.state.qi == 100
    assert "可以尝试突破" in outcome.narration


def test_cultivate_with_full_qi_is_allowed_but_gains_nothing() -> None:
    state = player(qi=100)
    outcome = act(state, "cultivate")
    assert outcome.allowed and outcome.state.qi == 100 and outcome.state.version == state.version + 1
    assert "灵气已满" in outcome.narration
    assert "突破" in [s.text for s in outcome.suggestions]


def test_cultivate_dissolves_karma() -> None:
    assert act(player(karma=5), "cultivate").state.karma == 4
    assert act(player(karma=0), "cultivate").state.karma == 0


def test_rest_restores_half_of_max_hp_capped() -> None:
    assert act(player(hp=10), "rest").state.hp == 60
    assert act(player(hp=90), "rest").state.hp == 100
    full = player()
    assert_refused(full, act(full, "rest"))  # nothing to heal: no action spent


def test_breakthrough_needs_full_qi() -> None:
    state = player(qi=99)
    outcome = act(state, "breakthrough")
    assert_refused(state, outcome)
    assert "99/100" in outcome.intent.reason


def test_breakthrough_at_the_top_of_the_last_realm_is_refused() -> None:
    state = player(realm="huashen", stage=4, qi=8000)
    outcome = act(state, "breakthrough")
    assert_refused(state, outcome)
    assert "巅峰" in outcome.intent.reason
    assert "突破" not in [s.text for s in outcome.suggestions]


def test_minor_breakthrough_advances_a_stage_and_empties_qi() -> None:
    outcome = first_outcome(player(qi=100), "breakthrough")
    assert (outcome.state.realm, outcome.state.stage, outcome.state.qi) == ("lianqi", 2, 0)
    assert "tribulation" not in event_types(outcome)


def test_failed_breakthrough_costs_qi_and_hp() -> None:
    outcome = first_outcome(player(qi=100), "breakthrough_failed")
    assert outcome.state.stage == 1
    assert outcome.state.qi == 60  # failure_qi_fraction 0.4
    assert outcome.state.hp == 85  # failure_hp_fraction 0.15 of max_hp 100


def test_minor_breakthrough_rate_matches_the_configured_chance() -> None:
    assert success_rate(player(qi=100)) == pytest.approx(0.85, abs=TOLERANCE)


def test_major_breakthrough_rate_matches_realm_chance_plus_root_bonus() -> None:
    assert success_rate(player(**LIANQI_PEAK)) == pytest.approx(0.3, abs=TOLERANCE)
    assert success_rate(player(root="tian", **LIANQI_PEAK)) == pytest.approx(0.4, abs=TOLERANCE)
    assert success_rate(player(breakthrough_bonus=0.35, **LIANQI_PEAK)) == pytest.approx(0.65, abs=TOLERANCE)


def test_karma_above_threshold_lowers_the_odds_of_a_realm_breakthrough() -> None:
    burdened = player(karma=20, **LIANQI_PEAK)  # (20 - 10) * 0.02 = 0.2 off
    assert breakthrough_odds(WORLD, burdened) == pytest.approx(0.1)
    assert breakthrough_odds(WORLD, player(karma=10, **LIANQI_PEAK)) == pytest.approx(0.3)
    assert success_rate(burdened) == pytest.approx(0.1, abs=TOLERANCE)
    outcome = act(burdened, "breakthrough")
    assert "karma_penalty" in event_types(outcome) and "因果" in outcome.narration


def test_breakthrough_odds_are_clamped() -> None:
    assert breakthrough_odds(WORLD, player(breakthrough_bonus=5.0, **LIANQI_PEAK)) == 0.99
    assert breakthrough_odds(WORLD, player(karma=500, **LIANQI_PEAK)) == 0.01


def test_tribulation_strikes_before_a_realm_breakthrough_and_names_its_law() -> None:
    outcome = first_outcome(player(**LIANQI_PEAK), "breakthrough_failed")
    tribulation = outcome.events[0]
    assert tribulation.type == "tribulation"
    assert tribulation.data["law"] == "REALM_BREAKTHROUGH" and tribulation.data["damage"] == 30
    assert outcome.state.hp == 100 - 30 - 15
    assert "雷劫" in outcome.narration


def test_a_tribulation_the_player_cannot_survive_is_refused_until_they_heal() -> None:
    # Rules 1 let a player at 5 hp attempt it and lose nothing (hp floored at 1): the thunder cost nothing.
    state = player(hp=30, **LIANQI_PEAK)
    outcome = act(state, "breakthrough")
    assert_refused(state, outcome)
    assert "渡劫必死" in outcome.intent.reason
    assert "休息" in [s.text for s in outcome.suggestions]


def test_realm_breakthrough_applies_the_reached_realms_gains_without_healing_the_thunder() -> None:
    outcome = first_outcome(player(hp=50, breakthrough_bonus=0.35, **LIANQI_PEAK), "breakthrough")
    state = outcome.state
    assert (state.realm, state.stage, state.qi) == ("zhuji", 1, 0)
    assert (state.max_hp, state.attack, state.defense) == (100 + 150, 12 + 25, 5 + 12)
    assert state.hp == 50 - 30 + 150 < state.max_hp  # the thunder's 30 stays taken; only the new room is added
    assert state.breakthrough_bonus == 0


def test_a_realm_attempt_spends_the_breakthrough_bonus_even_when_it_fails() -> None:
    outcome = first_outcome(player(breakthrough_bonus=0.35, **LIANQI_PEAK), "breakthrough_failed")
    assert outcome.state.breakthrough_bonus == 0


def test_a_stage_attempt_keeps_the_breakthrough_bonus_for_the_realm_attempt() -> None:
    outcome = first_outcome(player(qi=100, breakthrough_bonus=0.25), "breakthrough")
    assert outcome.state.breakthrough_bonus == 0.25


def test_each_minor_stage_grants_the_realms_stage_gains() -> None:
    outcome = first_outcome(player(qi=100), "breakthrough")
    state = outcome.state
    assert (state.max_hp, state.attack, state.defense) == (112, 14, 6)
    assert state.hp == 100 + 12


def test_later_stages_need_more_qi() -> None:
    state = player(stage=5, qi=150)
    outcome = act(state, "breakthrough")
    assert_refused(state, outcome)
    assert "150/200" in outcome.intent.reason


def test_cultivation_can_go_wrong_and_cost_qi_and_hp() -> None:
    state = player(location="lingquan", qi=80)
    mishaps = [
        o
        for o in (act(state, "cultivate", seed=seed) for seed in range(200))
        if o.events[0].type == "cultivation_mishap"
    ]
    assert 3 <= len(mishaps) <= 30  # about 6%
    assert all(o.state.qi == 68 and o.state.hp == 95 for o in mishaps)
