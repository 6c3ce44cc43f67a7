"""Buying from and selling to a scene's shop for spirit stones."""

from __future__ import annotations

from random import Random

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.measure import counted
from xianxia.engine.narration import entity_name, names
from xianxia.engine.outcome import Event
from xianxia.engine.results import Applied, Refused, Result
from xianxia.engine.state import PlayerState
from xianxia.engine.vitals import add_items, remove_items
from xianxia.world import World

#: `买所有` never buys more than this in one go, whatever the purse holds.
MAX_BULK = 99


def buy(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    shop = scene.shop
    if shop is None:
        return Refused(f"{scene.name}没有商店。")
    item_id = intent.slot("item")
    wares = names(f"{world.items[i].name}（{world.items[i].price}灵石）" for i in shop.sells)
    if item_id is None:
        return Refused(f"要买什么？{shop.name}出售：{wares}。")
    if item_id not in shop.sells:
        return Refused(f"{shop.name}不卖{entity_name(world, item_id)}。出售：{wares}。")
    item = world.items[item_id]
    if intent.wants_all:
        quantity = min(MAX_BULK, state.spirit_stones // item.price) if item.price else 1
        if quantity < 1:
            return Refused(
                f"灵石不足：{counted(world, item_id, 1)}要{item.price}枚灵石，你只有{state.spirit_stones}枚。"
            )
    else:
        quantity = intent.quantity
    cost = item.price * quantity
    if cost > state.spirit_stones:
        return Refused(
            f"灵石不足：{counted(world, item_id, quantity)}需要{cost}枚灵石，你只有{state.spirit_stones}枚。"
        )
    bought = state.model_copy(
        update={
            "spirit_stones": state.spirit_stones - cost,
            "inventory": add_items(state.inventory, item_id, quantity),
        }
    )
    events = (
        Event(type="stones_changed", data={"amount": -cost, "spirit_stones": bought.spirit_stones}),
        Event(type="item_gained", data={"item": item_id, "quantity": quantity}),
    )
    return Applied(bought, f"你在{shop.name}花{cost}枚灵石买下{counted(world, item_id, quantity)}。", events)


def sell(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    shop = scene.shop
    if shop is None or not shop.buys:
        return Refused(f"{scene.name}没有收购货物的商店。")
    item_id = intent.slot("item")
    if item_id is None:
        return Refused("要卖什么？看看背包里有什么吧。")
    held = state.inventory.get(item_id, 0)
    if item_id not in world.items or held < 1:
        worn = item_id in state.equipment.values()
        extra = "（正装备着的法宝不能卖）" if worn else ""
        return Refused(f"储物袋中没有{entity_name(world, item_id)}。{extra}")
    item = world.items[item_id]
    quantity = held if intent.wants_all else intent.quantity
    if held < quantity:
        return Refused(f"你只有{counted(world, item_id, held)}，不够卖{quantity}。")
    gain = item.sell_price * quantity
    sold = state.model_copy(
        update={
            "spirit_stones": state.spirit_stones + gain,
            "inventory": remove_items(state.inventory, item_id, quantity),
        }
    )
    events = (
        Event(type="item_lost", data={"item": item_id, "quantity": quantity}),
        Event(type="stones_changed", data={"amount": gain, "spirit_stones": sold.spirit_stones}),
    )
    return Applied(sold, f"你把{counted(world, item_id, quantity)}卖给{shop.name}，得到{gain}枚灵石。", events)
