"""Arithmetic of a player's bounded quantities: qi and its stage limit, hp and the inventory."""

from __future__ import annotations

from collections.abc import Mapping

from xianxia.engine.state import PlayerState
from xianxia.world import World


def stage_capacity(world: World, realm_id: str, stage: int) -> int:
    """Qi that fills a stage: the realm's first-stage qi, growing by `qi_growth` of it per later stage."""
    realm = world.realm(realm_id)
    return round(realm.qi_per_stage * (1 + realm.qi_growth * (stage - 1)))


def qi_capacity(world: World, state: PlayerState) -> int:
    """Qi that fills the current stage."""
    return stage_capacity(world, state.realm, state.stage)


def at_peak(world: World, state: PlayerState) -> bool:
    """The last stage of the last realm: nothing left to break through."""
    realm = world.realm(state.realm)
    return state.stage >= realm.stages and world.realm_rank(state.realm) + 1 >= len(world.realms)


def clamp_qi(world: World, state: PlayerState, qi: int) -> int:
    return max(0, min(qi, qi_capacity(world, state)))


def clamp_hp(state: PlayerState, hp: int) -> int:
    """Hp stays within 1..max_hp: a player is never left at 0."""
    return clamp_hp_to(hp, state.max_hp)


def clamp_hp_to(hp: int, max_hp: int) -> int:
    """`clamp_hp` against a max hp the state does not hold yet."""
    return max(1, min(hp, max_hp))


def fraction_of(value: int, fraction: float) -> int:
    """`value * fraction`, rounded to the nearest whole point."""
    return round(value * fraction)


def add_items(inventory: Mapping[str, int], item_id: str, count: int) -> dict[str, int]:
    updated = dict(inventory)
    updated[item_id] = updated.get(item_id, 0) + count
    return updated


def remove_items(inventory: Mapping[str, int], item_id: str, count: int) -> dict[str, int]:
    """The inventory less `count` of an item; an item at 0 disappears."""
    updated = dict(inventory)
    left = updated.get(item_id, 0) - count
    if left > 0:
        updated[item_id] = left
    else:
        updated.pop(item_id, None)
    return updated
