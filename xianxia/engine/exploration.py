"""Getting about: looking around, moving, talking to people, examining things and exploring a scene."""

from __future__ import annotations

from random import Random

from xianxia.engine import combat
from xianxia.engine.intents import ParsedIntent
from xianxia.engine.laws import verdict
from xianxia.engine.measure import counted
from xianxia.engine.narration import COMPASS, describe_scene, entity_name, exit_list, monster_grade, names, speaker
from xianxia.engine.outcome import Event, Suggestion
from xianxia.engine.quests import quest_talk
from xianxia.engine.results import Applied, Refused, Result
from xianxia.engine.state import PlayerState
from xianxia.engine.suggestions import attack, buy, equip, move_to, talk_to, use
from xianxia.engine.vitals import add_items, clamp_qi
from xianxia.world import World
from xianxia.world.schema import Encounter

#: Below this share of its first odds a reward stops being worth weighting (it stays possible).
MIN_REWARD_SHARE = 0.05


def look(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    return Applied(state, describe_scene(world, scene), (Event(type="looked", data={"scene": scene.id}),))


def resolve_direction(world: World, state: PlayerState, direction: str) -> str | None:
    """The scene a direction word leads to from here: a compass exit, or back where the player came from."""
    scene = world.scenes[state.location]
    if direction == "back":
        return state.previous if state.previous in scene.exits else None
    return scene.directions.get(direction)  # type: ignore[call-overload, no-any-return]


def move_target(world: World, state: PlayerState, intent: ParsedIntent) -> str | None:
    target = intent.slot("target")
    direction = intent.slot("direction")
    if target is None and direction is not None:
        return resolve_direction(world, state, direction)
    return target


def unreachable(world: World, state: PlayerState, intent: ParsedIntent) -> str | None:
    """Why a move cannot even be tried from here (no such exit), before any law is asked."""
    here = world.scenes[state.location]
    exits = exit_list(world, here)
    direction = intent.slot("direction")
    target = move_target(world, state, intent)
    if target is None and direction is not None:
        if direction == "back":
            return f"无路可返：你并非从别处来到{here.name}。可以前往：{exits}。"
        return f"{here.name}往{COMPASS.get(direction, direction)}没有路。可以前往：{exits}。"
    if target is None or target == state.location:
        return None
    if target not in world.scenes:
        return f"不知道「{entity_name(world, target)}」在哪里。可以前往：{exits}。"
    if target not in here.exits:
        return f"从{here.name}无法直接前往{entity_name(world, target)}。可以前往：{exits}。"
    return None


def move(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    here = world.scenes[state.location]
    target = move_target(world, state, intent)
    exits = exit_list(world, here)
    if target is None and intent.slot("direction") is None:
        return Refused(f"要去哪里？从{here.name}可以前往：{exits}。")
    if target == state.location:
        return Refused(f"你已经在{here.name}了。")
    problem = unreachable(world, state, intent)
    if problem is not None or target is None:
        return Refused(problem or f"要去哪里？从{here.name}可以前往：{exits}。")
    leaving, text, events = combat.disengage(world, state, rng)
    if leaving.location != state.location:  # felled by the parting blow
        return Applied(leaving, text, events)
    scene = world.scenes[target]
    moved = leaving.model_copy(update={"location": target, "previous": here.id})
    event = Event(type="moved", data={"from": here.id, "to": scene.id})
    prefix = f"{text}\n" if text else ""
    return Applied(
        moved, f"{prefix}你离开{here.name}，来到{scene.name}。\n{describe_scene(world, scene)}", (*events, event)
    )


def leave(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    """`flee`: run from a fight; out of one, leave the way the player came."""
    if state.fight is not None:
        return combat.flee(world, state, intent, rng)
    if state.previous is None or state.previous not in world.scenes[state.location].exits:
        return combat.flee(world, state, intent, rng)
    return move(world, state, ParsedIntent(intent="move", slots={"target": state.previous}), rng)


def talk(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    target = intent.slot("target")
    if target is None:
        if len(scene.npcs) == 1:
            target = scene.npcs[0]
        else:
            return Refused(f"要和谁说话？此地有：{names(world.npcs[n].name for n in scene.npcs)}。")
    if target not in scene.npcs:
        return Refused(f"{entity_name(world, target)}不在{scene.name}。")
    npc = world.npcs[target]
    quest = quest_talk(world, state, npc.id)
    line = rng.choice(npc.lines)
    event = Event(type="dialogue", data={"npc": npc.id, "line": line})
    said = f"{speaker(world, npc.id)}说道：「{line}」"
    if quest is None:
        return Applied(state, said, (event,))
    return Applied(quest.state, f"{said}\n{quest.narration}", (event, *quest.events))


def examine(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    """A close look at a person, beast, item or place, with what one could do with it (nothing is done)."""
    scene = world.scenes[state.location]
    target = intent.slot("target") or intent.slot("item")
    if target is None:
        return look(world, state, intent, rng)
    offers: list[Suggestion] = []
    if target in world.monsters:
        monster = world.monsters[target]
        if target not in scene.monsters:
            return Refused(f"{monster.name}不在{scene.name}。")
        text = f"{monster.name}：{monster.description}\n{combat.describe_danger(world, state, monster)}"
        if verdict(world, state.location, state.realm, "attack", "target", target).allowed:
            offers.append(attack(world, target, combat.danger(state, monster).level))
    elif target in world.npcs:
        npc = world.npcs[target]
        if target not in scene.npcs:
            return Refused(f"{npc.name}不在{scene.name}。")
        title = f"（{npc.title}）" if npc.title else ""
        text = f"{npc.name}{title}：{npc.description or npc.persona}"
        offers.append(talk_to(world, target))
    elif target in world.items:
        text, offers = _examine_item(world, state, target)
    elif target in world.scenes:
        if target != state.location and target not in scene.exits:
            return Refused(f"从{scene.name}看不到{world.scenes[target].name}。")
        text = (
            describe_scene(world, world.scenes[target])
            if target == state.location
            else world.scenes[target].description
        )
        if target != state.location:
            offers.append(move_to(world, target))
    else:
        return Refused(f"这里没有「{entity_name(world, target)}」。")
    return Applied(state, text, (Event(type="examined", data={"target": target}),), tuple(offers))


def _examine_item(world: World, state: PlayerState, item_id: str) -> tuple[str, list[Suggestion]]:
    item = world.items[item_id]
    scene = world.scenes[state.location]
    held = state.inventory.get(item_id, 0)
    worn = item_id in state.equipment.values()
    lines = [f"{item.name}：{item.description}"]
    facts = [f"你有{counted(world, item_id, held)}" if held else "你没有这件东西"]
    if worn:
        facts.append("正装备着")
    sold = scene.shop is not None and item_id in scene.shop.sells
    if sold:
        facts.append(f"{scene.shop.name if scene.shop else ''}售价{item.price}灵石")
    lines.append("，".join(facts) + "。")
    offers: list[Suggestion] = []
    if held and item.slot is not None and not worn:
        offers.append(equip(world, item_id))
    elif held and item.usable and item.slot is None:
        offers.append(use(world, item_id))
    if sold and item.price <= state.spirit_stones:
        offers.append(buy(world, item_id))
    return "\n".join(lines), offers


def _weight(world: World, state: PlayerState, scene_id: str, index: int, encounter: Encounter) -> float:
    """An encounter's odds now: rewards fade each time the scene is explored; limited finds run out."""
    if encounter.limit is not None and state.found.get(f"{scene_id}:{index}", 0) >= encounter.limit:
        return 0.0
    if encounter.kind in ("monster", "nothing"):
        return encounter.weight
    share = max(MIN_REWARD_SHARE, world.settings.explore_decay ** state.explored.get(scene_id, 0))
    return encounter.weight * share


def explore(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    explored = state.model_copy(update={"explored": {**state.explored, scene.id: state.explored.get(scene.id, 0) + 1}})
    weights = [_weight(world, state, scene.id, i, e) for i, e in enumerate(scene.encounters)]
    if not scene.encounters or not any(weights):
        return Applied(explored, f"你在{scene.name}四处探索了一番，一无所获。这里怕是已被你翻遍了。")
    index = rng.choices(range(len(scene.encounters)), weights=weights)[0]
    encounter = scene.encounters[index]
    if encounter.limit is not None:
        key = f"{scene.id}:{index}"
        explored = explored.model_copy(update={"found": {**explored.found, key: explored.found.get(key, 0) + 1}})
    return _meet(world, explored, encounter)


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
        estimate = combat.danger(state, monster)
        offer: tuple[Suggestion, ...] = ()
        if verdict(world, state.location, state.realm, "attack", "target", monster.id).allowed:
            offer = (attack(world, monster.id, estimate.level),)
        hint = f"（{monster_grade(world, monster)}，{estimate.level}）"
        return Applied(state, (text or f"你遇到了{monster.name}！") + hint, (event,), offer)
    return Applied(state, text or "你四处探索了一番，一无所获。")
