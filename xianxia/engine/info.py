"""Intents that only tell the player something: status, inventory and help."""

from __future__ import annotations

from random import Random

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.narration import describe_commands, describe_inventory, describe_status
from xianxia.engine.outcome import Event, Suggestion
from xianxia.engine.results import Applied, Result
from xianxia.engine.state import PlayerState
from xianxia.engine.suggestions import unequip
from xianxia.world import World


def status(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_status(world, state), (Event(type="status_shown"),), _take_off(world, state))


def inventory(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_inventory(world, state), (Event(type="inventory_shown"),), _take_off(world, state))


def _take_off(world: World, state: PlayerState) -> tuple[Suggestion, ...]:
    """What is worn can be taken off from the status and the bag, by a click."""
    return tuple(unequip(world, i) for i in state.equipment.values() if i in world.items)


def help_(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_commands(world), (Event(type="help_shown"),))
