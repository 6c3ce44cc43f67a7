"""Measure words: 三颗回春丹, 一柄精铁剑, 两张狼皮."""

from __future__ import annotations

from xianxia.world import World

#: The measure word of an item kind when the item names none.
KIND_MEASURES = {"pill": "颗", "material": "份", "treasure": "件", "art": "卷"}


def measure(world: World, item_id: str) -> str:
    item = world.items.get(item_id)
    if item is None:
        return "个"
    return item.measure or KIND_MEASURES.get(item.kind, "个")


def counted(world: World, item_id: str, quantity: int) -> str:
    """e.g. 3颗回春丹."""
    item = world.items.get(item_id)
    return f"{quantity}{measure(world, item_id)}{item.name if item else item_id}"
