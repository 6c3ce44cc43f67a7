"""Shared builders for engine tests: a player with chosen stats, and one action under a fixed seed."""

from __future__ import annotations

from random import Random
from typing import Any

from xianxia.engine import Outcome, ParsedIntent, PlayerState, apply_action, new_player
from xianxia.world import World, load_world

WORLD = load_world()


def player(**overrides: Any) -> PlayerState:
    """A fresh player of the default world with an average root (三灵根), then any fields overridden."""
    state = new_player(WORLD, "p1", "韩立", seed=7).model_copy(update={"root": "san"})
    return state.model_copy(update=overrides)


def intent(name: str, **slots: str | int) -> ParsedIntent:
    return ParsedIntent(intent=name, slots=slots)


def act(state: PlayerState, name: str, seed: int = 0, world: World = WORLD, **slots: str | int) -> Outcome:
    """Apply one intent with a seeded RNG."""
    return apply_action(world, state, intent(name, **slots), Random(seed))


def event_types(outcome: Outcome) -> list[str]:
    return [event.type for event in outcome.events]


def texts(outcome: Outcome) -> list[str]:
    return [suggestion.text for suggestion in outcome.suggestions]


def assert_refused(before: PlayerState, outcome: Outcome, law: str | None = None) -> None:
    """A refusal: not allowed, the given law (or none), and the very same state."""
    assert outcome.allowed is False
    assert outcome.intent.law == law
    assert outcome.intent.reason
    assert outcome.state == before
    assert outcome.suggestions
