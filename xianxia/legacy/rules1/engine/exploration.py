"""Getting about: looking around, moving, talking to people and exploring a scene."""

from __future__ import annotations

from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.laws import judge
from xianxia.legacy.rules1.engine.narration import describe_scene, entity_name, names, scene_name
from xianxia.legacy.rules1.engine.outcome import Event, Suggestion
from xianxia.legacy.rules1.engine.results import Applied, Refused, Result
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.engine.suggestions import attack
from xianxia.legacy.rules1.engine.vitals import add_items, clamp_qi
from xianxia.legacy.rules1.world import World
from xianxia.legacy.rules1.world.schema import Encounter


def look(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    return Applied(state, describe_scene(world, scene), (Event(type="looked", data={"scene": scene.id}),))


def move(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    here = world.scenes[state.location]
    target = intent.slot("target")
    exits = names(scene_name(world, e) for e in here.exits)
    if target is None:
        return Refused(f"要去哪里？从{here.name}可以前往：{exits}。")
    if target == state.location:
        return Refused(f"你已经在{here.name}了。")
    if target not in here.exits:
        return Refused(f"从{here.name}无法直接前往{entity_name(world, target)}。可以前往：{exits}。")
    scene = world.scenes[target]
    moved = state.model_copy(update={"location": target})
    event = Event(type="moved", data={"from": here.id, "to": scene.id})
    return Applied(moved, f"你离开{here.name}，来到{scene.name}。\n{describe_scene(world, scene)}", (event,))


def talk(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    target = intent.slot("target")
    if target is None:
        return Refused(f"要和谁说话？此地有：{names(world.npcs[n].name for n in scene.npcs)}。")
    if target not in scene.npcs:
        return Refused(f"{entity_name(world, target)}不在{scene.name}。")
    npc = world.npcs[target]
    line = rng.choice(npc.lines)
    speaker = f"{npc.title}{npc.name}" if npc.title else npc.name
    event = Event(type="dialogue", data={"npc": npc.id, "line": line})
    return Applied(state, f"{speaker}说道：「{line}」", (event,))


def explore(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    if not scene.encounters:
        return Applied(state, f"你在{scene.name}四处探索了一番，一无所获。")
    encounter = rng.choices(scene.encounters, weights=[e.weight for e in scene.encounters])[0]
    return _meet(world, state, encounter)


def _meet(world: World, state: PlayerState, encounter: Encounter) -> Result:
    text = encounter.text
    if encounter.kind == "stones":
        richer = state.model_copy(update={"spirit_stones": state.spirit_stones + encounter.amount})
        event = Event(type="stones_changed", data={"amount": encounter.amount, "spirit_stones": richer.spirit_stones})
        return Applied(richer, text or f"你找到{encounter.amount}枚灵石。", (event,))
    if encounter.kind == "qi":
        qi = clamp_qi(world, state, state.qi + encounter.amount)
        event = Event(type="qi_gained", data={"amount": qi - state.qi, "qi": qi})
        return Applied(state.model_copy(update={"qi": qi}), text or "一缕灵气涌入经脉。", (event,))
    if encounter.kind == "item" and encounter.id is not None:
        count = max(1, encounter.amount)
        found = state.model_copy(update={"inventory": add_items(state.inventory, encounter.id, count)})
        event = Event(type="item_gained", data={"item": encounter.id, "quantity": count})
        return Applied(found, text or f"你找到了{entity_name(world, encounter.id)}。", (event,))
    if encounter.kind == "monster" and encounter.id is not None:
        monster = world.monsters[encounter.id]
        event = Event(type="encounter", data={"monster": monster.id, "name": monster.name})
        fight = ParsedIntent(intent="attack", slots={"target": monster.id})
        offer: tuple[Suggestion, ...] = ()
        if judge(world, state.location, state.realm, fight).allowed:
            offer = (attack(world, monster.id),)
        return Applied(state, text or f"你遇到了{monster.name}！", (event,), offer)
    return Applied(state, text or "你四处探索了一番，一无所获。")
