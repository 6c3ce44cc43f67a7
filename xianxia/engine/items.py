"""Using an item from the inventory (its effects apply and it is consumed), and wearing treasures by slot."""

from __future__ import annotations

from random import Random

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.measure import counted, measure
from xianxia.engine.narration import entity_name
from xianxia.engine.outcome import Event
from xianxia.engine.results import Applied, Refused, Result
from xianxia.engine.state import PlayerState
from xianxia.engine.vitals import add_items, clamp_hp, clamp_hp_to, clamp_qi, remove_items
from xianxia.world import World
from xianxia.world.schema import Item, ItemEffects

SLOT_NAMES = {"weapon": "兵器", "armor": "护具", "charm": "佩饰"}


def use_item(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    item_id = intent.slot("item")
    if item_id is None:
        return Refused("要使用什么？看看背包里有什么吧。")
    held = state.inventory.get(item_id, 0)
    if held < 1 or item_id not in world.items:
        return Refused(f"储物袋中没有{entity_name(world, item_id)}。")
    item = world.items[item_id]
    if not item.usable:
        return Refused(f"{item.name}无法直接使用，或许可以卖给商店。")
    if item.slot is not None:
        return equip(world, state, intent, rng)
    wanted = held if intent.wants_all else intent.quantity
    if wanted > held:
        return Refused(f"你只有{counted(world, item_id, held)}，不够用{wanted}{measure(world, item_id)}。")
    used, count = state, 0
    while count < wanted:
        after = _apply_effects(world, used, item.effects)
        if not _changes(used, after):
            break
        used, count = after, count + 1
    if count == 0:
        return Refused(_useless(world, state, item))
    used = used.model_copy(update={"inventory": remove_items(state.inventory, item_id, count)})
    changes = _changes(state, used)
    event = Event(type="item_used", data={"item": item.id, "quantity": count, "changes": changes})
    spared = "其余的留着，再用也是浪费。" if count < wanted else ""
    return Applied(
        used, f"你使用了{counted(world, item_id, count)}。{item.description}{_describe(changes)}{spared}", (event,)
    )


def useful(world: World, state: PlayerState, item_id: str) -> bool:
    """Whether using one of this item now would change anything (a healing pill at full hp would not)."""
    item = world.items.get(item_id)
    if item is None or not item.usable or item.slot is not None:
        return False
    return bool(_changes(state, _apply_effects(world, state, item.effects)))


def _useless(world: World, state: PlayerState, item: Item) -> str:
    effects = item.effects
    if effects.hp and state.hp >= state.max_hp and not (effects.qi or effects.max_hp or effects.breakthrough_bonus):
        return f"你气血充盈（{state.hp}/{state.max_hp}），服用{item.name}只是浪费，先留着吧。"
    if effects.breakthrough_bonus and state.breakthrough_bonus >= effects.breakthrough_bonus:
        return f"{item.name}的药力已在你体内，效力不能叠加，留到下次突破吧。"
    return f"此刻使用{item.name}不会有任何效果，先留着吧。"


def equip(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    item_id = intent.slot("item")
    if item_id is None:
        return Refused("要装备什么？法宝（兵器、护具、佩饰）各能装备一件。")
    if item_id not in world.items:
        return Refused(f"没有「{entity_name(world, item_id)}」这样的东西。")
    item = world.items[item_id]
    if item.slot is None:
        return Refused(f"{item.name}不是可以装备的法宝。")
    if state.equipment.get(item.slot) == item_id:
        return Refused(f"你已经装备着{item.name}了（每个部位只能装备一件，效力不叠加）。")
    if state.inventory.get(item_id, 0) < 1:
        return Refused(f"储物袋中没有{item.name}。")
    worn = state
    events: list[Event] = []
    texts: list[str] = []
    old = state.equipment.get(item.slot)
    if old is not None and old in world.items:
        worn = _remove_effects(worn, world.items[old].effects)
        worn = worn.model_copy(update={"inventory": add_items(worn.inventory, old, 1)})
        events.append(Event(type="unequipped", data={"item": old, "slot": item.slot}))
        texts.append(f"你卸下{world.items[old].name}，")
    worn = _apply_effects(world, worn, item.effects.model_copy(update={"hp": 0, "qi": 0, "breakthrough_bonus": 0.0}))
    worn = worn.model_copy(
        update={
            "inventory": remove_items(worn.inventory, item_id, 1),
            "equipment": {**state.equipment, item.slot: item_id},
        }
    )
    changes = _changes(state, worn)
    events.append(Event(type="equipped", data={"item": item_id, "slot": item.slot, "changes": changes}))
    texts.append(f"你将{item.name}装备为{SLOT_NAMES.get(item.slot, item.slot)}。{_describe(changes)}")
    return Applied(worn, "".join(texts), tuple(events))


def unequip(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    """Take a worn treasure off: its bonuses go, it goes back into the bag; hp stays within the lower cap."""
    item_id = intent.slot("item")
    worn = {i: s for s, i in state.equipment.items() if i in world.items}
    if item_id is None:
        if not worn:
            return Refused("你身上没有装备任何法宝。")
        return Refused(f"要卸下什么？你装备着{'、'.join(world.items[i].name for i in worn)}。")
    if item_id not in worn:
        return Refused(f"你没有装备{entity_name(world, item_id)}。")
    item = world.items[item_id]
    slot = worn[item_id]
    bare = _remove_effects(state, item.effects)
    bare = bare.model_copy(
        update={
            "inventory": add_items(bare.inventory, item_id, 1),
            "equipment": {s: i for s, i in state.equipment.items() if s != slot},
        }
    )
    changes = _changes(state, bare)
    event = Event(type="unequipped", data={"item": item_id, "slot": slot, "changes": changes})
    return Applied(bare, f"你卸下{item.name}，收回储物袋。{_describe(changes)}", (event,))


def _apply_effects(world: World, state: PlayerState, effects: ItemEffects) -> PlayerState:
    # max_hp first, so a pill that raises it can heal into the new room. One copy: the qi cap depends on the
    # realm and stage alone, which no effect changes.
    max_hp = max(1, state.max_hp + effects.max_hp)
    return state.model_copy(
        update={
            "max_hp": max_hp,
            "hp": clamp_hp_to(state.hp + effects.hp, max_hp),
            "qi": clamp_qi(world, state, state.qi + effects.qi),
            "attack": max(0, state.attack + effects.attack),
            "defense": max(0, state.defense + effects.defense),
            # A pill's power does not stack: the stronger one holds until the next realm breakthrough.
            "breakthrough_bonus": max(state.breakthrough_bonus, effects.breakthrough_bonus),
        }
    )


def _remove_effects(state: PlayerState, effects: ItemEffects) -> PlayerState:
    shrunk = state.model_copy(update={"max_hp": max(1, state.max_hp - effects.max_hp)})
    return shrunk.model_copy(
        update={
            "hp": clamp_hp(shrunk, shrunk.hp),
            "attack": max(0, shrunk.attack - effects.attack),
            "defense": max(0, shrunk.defense - effects.defense),
        }
    )


STAT_NAMES = {
    "hp": "气血",
    "max_hp": "气血上限",
    "qi": "灵气",
    "attack": "攻击",
    "defense": "防御",
}


def _changes(before: PlayerState, after: PlayerState) -> dict[str, float]:
    changes: dict[str, float] = {}
    for stat in (*STAT_NAMES, "breakthrough_bonus"):
        delta = getattr(after, stat) - getattr(before, stat)
        if delta:
            changes[stat] = round(delta, 4) if isinstance(delta, float) else delta
    return changes


def _describe(changes: dict[str, float]) -> str:
    parts = [f"{STAT_NAMES[stat]}{value:+g}" for stat, value in changes.items() if stat in STAT_NAMES]
    if "breakthrough_bonus" in changes:
        parts.append(f"下次突破成功率+{round(changes['breakthrough_bonus'] * 100)}%")
    return f"（{'，'.join(parts)}）" if parts else "（似乎没有什么变化）"
