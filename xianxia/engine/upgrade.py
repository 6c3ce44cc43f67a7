"""Bringing a state shaped by older rules up to the rules this engine applies."""

from __future__ import annotations

from xianxia.engine.state import RULES_VERSION, PlayerState
from xianxia.engine.vitals import qi_capacity
from xianxia.world import World


def upgrade(world: World, state: PlayerState) -> PlayerState:
    """The state as the current rules would have it; unchanged when it is already current.

    Deterministic and RNG-free: the live service and a replay of the log both call it on a player's first
    action under new rules, so both reach the same state.
    """
    if state.rules >= RULES_VERSION:
        return state
    if state.rules == 1:
        state = _from_rules_1(world, state)
    return state.model_copy(update={"rules": RULES_VERSION})


def _from_rules_1(world: World, state: PlayerState) -> PlayerState:
    """Rules 2 grant stats per minor stage: a player keeps what they had and gains the stages already passed.

    Treasures used under rules 1 were consumed into the stats; those stay as they are (nothing is taken back).
    """
    realm = world.realm(state.realm) if state.realm in world.realm_index else None
    if realm is None:
        return state
    passed = max(0, min(state.stage, realm.stages) - 1)
    gains = realm.stage_gains
    grown = state.model_copy(
        update={
            "max_hp": state.max_hp + gains.max_hp * passed,
            "hp": state.hp + gains.max_hp * passed,
            "attack": state.attack + gains.attack * passed,
            "defense": state.defense + gains.defense * passed,
        }
    )
    return grown.model_copy(update={"qi": min(grown.qi, qi_capacity(world, grown))})
