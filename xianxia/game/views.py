"""The public JSON shape of a player and of an action's answer."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from xianxia.engine import Event, Outcome, PlayerState, Suggestion, stage_name
from xianxia.engine.intents import ParseResult
from xianxia.engine.quests import quest_log
from xianxia.world import World

# One serializer call for a whole list: the same dicts as each model's model_dump(), without a call per model.
_EVENTS = TypeAdapter(list[Event])
_SUGGESTIONS = TypeAdapter(list[Suggestion])


def player_view(world: World, state: PlayerState) -> dict[str, Any]:
    """The `Player` object of the HTTP contract."""
    realm = world.realm(state.realm)
    scene = world.scenes.get(state.location)
    root = world.roots.get(state.root)
    return {
        "id": state.id,
        "name": state.name,
        "realm": state.realm,
        "realm_name": realm.name,
        "stage": state.stage,
        "stage_name": stage_name(world, state),
        "qi": state.qi,
        "qi_max": realm.qi_per_stage,
        "hp": state.hp,
        "max_hp": state.max_hp,
        "attack": state.attack,
        "defense": state.defense,
        "spirit_stones": state.spirit_stones,
        "location": state.location,
        "location_name": scene.name if scene else state.location,
        "inventory": dict(state.inventory),
        "root": state.root,
        "root_name": root.name if root else state.root,
        "karma": state.karma,
        "equipment": dict(state.equipment),
        "quests": quest_log(world, state),
        "fight": _fight_view(world, state),
        "version": state.version,
    }


def _fight_view(world: World, state: PlayerState) -> dict[str, Any] | None:
    """The fight in progress, if any: whom, how hurt it is, which round."""
    if state.fight is None:
        return None
    monster = world.monsters.get(state.fight.monster)
    return {
        "monster": state.fight.monster,
        "monster_name": monster.name if monster else state.fight.monster,
        "monster_hp": state.fight.monster_hp,
        "monster_max_hp": monster.hp if monster else state.fight.monster_hp,
        "round": state.fight.round,
    }


def action_view(world: World, parsed: ParseResult, outcome: Outcome) -> dict[str, Any]:
    """The answer of `POST /api/players/{id}/act`."""
    answer: dict[str, Any] = {
        "intent": outcome.intent.model_dump(),
        "parser": parsed.parser,
        "narration": outcome.narration,
        "events": _EVENTS.dump_python(list(outcome.events)),
        "player": player_view(world, outcome.state),
        "suggestions": _SUGGESTIONS.dump_python(list(outcome.suggestions)),
    }
    if parsed.degraded:
        answer["degraded"] = True
    return answer
