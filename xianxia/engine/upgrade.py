"""Bringing a state shaped by older rules up to the rules this engine applies."""

from __future__ import annotations

from xianxia.engine.state import RULES_VERSION, PlayerState
from xianxia.world import World


def upgrade(world: World, state: PlayerState) -> PlayerState:
    """The state as the current rules would have it; unchanged when it is already current.

    Deterministic and RNG-free: the live service and a replay of the log both call it on a player's first
    action under new rules, so both reach the same state.
    """
    if state.rules >= RULES_VERSION:
        return state
    return state.model_copy(update={"rules": RULES_VERSION})
