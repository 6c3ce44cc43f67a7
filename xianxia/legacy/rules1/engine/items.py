"""Using an item from the inventory: its effects apply and it is consumed."""

from __future__ import annotations

from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.narration import entity_name
from xianxia.legacy.rules1.engine.outcome import Event
from xianxia.legacy.rules1.engine.results import Applied, Refused, Result
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.engine.vitals import clamp_hp, clamp_qi, remove_items
from xianxia.legacy.rules1.world import World
from xianxia.legacy.rules1.world.schema import ItemEffects


def use_item(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    item_id = intent.slot("item")
    if item_id is None:
        return Refused("要使用什么？看看背包里有什么吧。")
    if state.inventory.get(item_id, 0) < 1 or item_id not in world.items:
        return Refused(f"储物袋中没有{entity_name(world, item_id)}。")
    item = world.items[item_id]
    if not item.usable:
        return Refused(f"{item.name}无法直接使用，或许可以卖给商店。")
    used = _apply_effects(world, state, item.effects).model_copy(
        update={"inventory": remove_items(state.inventory, item_id, 1)}
    )
    changes = _changes(state, used)
    event = Event(type="item_used", data={"item": item.id, "changes": changes})
    return Applied(used, f"你使用了{item.name}。{item.description}{_describe(changes)}", (event,))


def _apply_effects(world: World, state: PlayerState, effects: ItemEffects) -> PlayerState:
    # max_hp first, so a pill that raises it can heal into the new room.
    grown = state.model_copy(update={"max_hp": max(1, state.max_hp + effects.max_hp)})
    return grown.model_copy(
        update={
            "hp": clamp_hp(grown, grown.hp + effects.hp),
            "qi": clamp_qi(world, grown, grown.qi + effects.qi),
            "attack": max(0, grown.attack + effects.attack),
            "defense": max(0, grown.defense + effects.defense),
            "breakthrough_bonus": grown.breakthrough_bonus + effects.breakthrough_bonus,
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
