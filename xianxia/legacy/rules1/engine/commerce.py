"""Buying from and selling to a scene's shop for spirit stones."""

from __future__ import annotations

from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.narration import entity_name, names
from xianxia.legacy.rules1.engine.outcome import Event
from xianxia.legacy.rules1.engine.results import Applied, Refused, Result
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.engine.vitals import add_items, remove_items
from xianxia.legacy.rules1.world import World


def buy(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    shop = scene.shop
    if shop is None:
        return Refused(f"{scene.name}没有商店。")
    item_id = intent.slot("item")
    wares = names(world.items[i].name for i in shop.sells)
    if item_id is None:
        return Refused(f"要买什么？{shop.name}出售：{wares}。")
    if item_id not in shop.sells:
        return Refused(f"{shop.name}不卖{entity_name(world, item_id)}。出售：{wares}。")
    item = world.items[item_id]
    quantity = intent.quantity
    cost = item.price * quantity
    if cost > state.spirit_stones:
        return Refused(f"灵石不足：{quantity}件{item.name}需要{cost}枚灵石，你只有{state.spirit_stones}枚。")
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
    return Applied(bought, f"你在{shop.name}花{cost}枚灵石买下{quantity}件{item.name}。", events)


def sell(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    shop = scene.shop
    if shop is None or not shop.buys:
        return Refused(f"{scene.name}没有收购货物的商店。")
    item_id = intent.slot("item")
    if item_id is None:
        return Refused("要卖什么？看看背包里有什么吧。")
    quantity = intent.quantity
    held = state.inventory.get(item_id, 0)
    if item_id not in world.items or held < 1:
        return Refused(f"储物袋中没有{entity_name(world, item_id)}。")
    item = world.items[item_id]
    if held < quantity:
        return Refused(f"你只有{held}件{item.name}，不够卖{quantity}件。")
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
    return Applied(sold, f"你把{quantity}件{item.name}卖给{shop.name}，得到{gain}枚灵石。", events)
