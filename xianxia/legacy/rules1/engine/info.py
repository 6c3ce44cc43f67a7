"""Intents that only tell the player something: status, inventory and help."""

from __future__ import annotations

from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.narration import describe_commands, describe_inventory, describe_status
from xianxia.legacy.rules1.engine.outcome import Event
from xianxia.legacy.rules1.engine.results import Applied, Result
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.world import World


def status(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_status(world, state), (Event(type="status_shown"),))


def inventory(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_inventory(world, state), (Event(type="inventory_shown"),))


def help_(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    return Applied(state, describe_commands(world), (Event(type="help_shown"),))
