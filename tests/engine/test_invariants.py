"""Properties over random sequences of intents with random (often garbage) slots."""

from __future__ import annotations

from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.helpers import WORLD
from xianxia.engine import (
    ALLOWED_INTENTS,
    ParsedIntent,
    PlayerState,
    action_rng,
    apply_action,
    new_player,
    replay,
    suggestions_here,
)
from xianxia.engine.vitals import qi_capacity

GARBAGE = ["", "nowhere", "x" * 64, "DROP TABLE", "主城", "yelang "]
TARGETS = [*WORLD.scenes, *WORLD.npcs, *WORLD.monsters, *GARBAGE]
ITEMS = [*WORLD.items, *GARBAGE]

intents = st.builds(
    lambda name, target, item, quantity, keys: ParsedIntent(
        intent=name,
        slots={k: v for k, v in {"target": target, "item": item, "quantity": quantity}.items() if k in keys},
    ),
    st.sampled_from(sorted(ALLOWED_INTENTS | {"dance"})),
    st.sampled_from(TARGETS),
    st.sampled_from(ITEMS),
    st.integers(min_value=1, max_value=999),
    st.sets(st.sampled_from(["target", "item", "quantity"])),
)


@st.composite
def players(draw: st.DrawFn) -> PlayerState:
    """A player anywhere in the world, at any realm and stage, with random belongings."""
    realm = draw(st.sampled_from(WORLD.realms))
    base = new_player(WORLD, "p", "道友", draw(st.integers(min_value=0, max_value=2**32)))
    max_hp = draw(st.integers(min_value=1, max_value=3000))
    return base.model_copy(
        update={
            "realm": realm.id,
            "stage": draw(st.integers(min_value=1, max_value=realm.stages)),
            "qi": draw(st.integers(min_value=0, max_value=realm.qi_per_stage)),
            "max_hp": max_hp,
            "hp": draw(st.integers(min_value=1, max_value=max_hp)),
            "attack": draw(st.integers(min_value=0, max_value=500)),
            "defense": draw(st.integers(min_value=0, max_value=300)),
            "spirit_stones": draw(st.integers(min_value=0, max_value=1000)),
            "location": draw(st.sampled_from(sorted(WORLD.scenes))),
            "inventory": draw(st.dictionaries(st.sampled_from(sorted(WORLD.items)), st.integers(1, 5), max_size=4)),
            "karma": draw(st.integers(min_value=0, max_value=60)),
            "breakthrough_bonus": draw(st.sampled_from([0.0, 0.25, 0.5])),
        }
    )


def check_invariants(state: PlayerState) -> None:
    realm = WORLD.realm(state.realm)
    assert 0 <= state.qi <= qi_capacity(WORLD, state)
    assert 1 <= state.stage <= realm.stages
    assert 1 <= state.hp <= state.max_hp
    assert state.spirit_stones >= 0
    assert all(count > 0 for count in state.inventory.values())
    assert state.location in WORLD.scenes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(players(), st.lists(intents, max_size=25))
def test_every_action_keeps_the_state_valid_and_versions_step_by_one(
    start: PlayerState, actions: list[ParsedIntent]
) -> None:
    state = start
    for intent in actions:
        outcome = apply_action(WORLD, state, intent, action_rng(state))
        assert outcome.suggestions
        assert len({s.text for s in outcome.suggestions}) == len(outcome.suggestions)
        if outcome.allowed:
            assert outcome.state.version == state.version + 1
        else:
            assert outcome.state == state
            assert outcome.intent.reason
        assert outcome.intent.intent == intent.intent and outcome.intent.slots == intent.slots
        check_invariants(outcome.state)
        state = outcome.state


@settings(max_examples=60, deadline=None)
@given(players(), st.lists(intents, max_size=25))
def test_replaying_the_logged_intents_reproduces_the_played_state(
    start: PlayerState, actions: list[ParsedIntent]
) -> None:
    played = start
    logged: list[str] = []
    for intent in actions:  # as the game service plays them, one action at a time
        outcome = apply_action(WORLD, played, intent, action_rng(played))
        played = outcome.state
        logged.append(outcome.intent.model_dump_json())  # what the action log keeps
    from_log = [ParsedIntent.model_validate_json(raw) for raw in logged]
    assert replay(WORLD, start, from_log) == played


@settings(max_examples=60, deadline=None)
@given(players(), st.integers(min_value=0, max_value=2**32))
def test_the_same_rng_seed_gives_the_same_outcome(state: PlayerState, seed: int) -> None:
    for name in ("cultivate", "explore", "breakthrough", "attack"):
        target = {"target": m} if (m := next(iter(WORLD.scenes[state.location].monsters), None)) else {}
        intent = ParsedIntent(intent=name, slots=target)
        assert apply_action(WORLD, state, intent, Random(seed)) == apply_action(WORLD, state, intent, Random(seed))


@settings(max_examples=80, deadline=None)
@given(players())
def test_every_suggestion_is_an_action_the_engine_carries_out(state: PlayerState) -> None:
    for suggestion in suggestions_here(WORLD, state):
        intent = ParsedIntent(intent=suggestion.intent, slots=suggestion.slots)
        outcome = apply_action(WORLD, state, intent, Random(0))
        assert outcome.allowed, (suggestion.text, outcome.intent.reason)


def test_replay_applies_each_intent_with_the_rng_of_the_state_before_it() -> None:
    start = new_player(WORLD, "p", "道友", 123)
    script = [ParsedIntent(intent="cultivate"), ParsedIntent(intent="attack", slots={"target": "yelang"})]
    script += [ParsedIntent(intent="move", slots={"target": "houshan"}), ParsedIntent(intent="explore")]
    state = start
    for intent in script:
        state = apply_action(WORLD, state, intent, action_rng(state)).state
    assert replay(WORLD, start, script) == state
    assert state.version == 3  # the attack in the city was refused
