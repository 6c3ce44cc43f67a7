"""What the player can say now: commands the rules parser understands, each with its intent."""

from __future__ import annotations

from collections.abc import Iterable

from xianxia.engine import combat
from xianxia.engine.cultivation import tribulation_damage
from xianxia.engine.intents import ParsedIntent
from xianxia.engine.items import useful
from xianxia.engine.laws import intent_forbidden_in, is_world_id, verdict
from xianxia.engine.outcome import Suggestion
from xianxia.engine.quests import available
from xianxia.engine.state import PlayerState
from xianxia.engine.vitals import at_peak, qi_capacity
from xianxia.world import World
from xianxia.world.schema import Law

#: How many shop wares and sellable goods to offer, so the list stays short.
SHOP_SUGGESTIONS = 3


# The builders below answer the same frozen Suggestion for the same arguments, from the world's memo: each is a
# pure function of the world and its ids. An unknown id raises (KeyError) as it always did, and stores nothing.


def move_to(world: World, scene_id: str) -> Suggestion:
    return world.memoised(
        ("move_to", scene_id),
        lambda: Suggestion(text=f"去{world.scenes[scene_id].name}", intent="move", slots={"target": scene_id}),
    )


def talk_to(world: World, npc_id: str, note: str = "") -> Suggestion:
    return world.memoised(
        ("talk_to", npc_id, note),
        lambda: Suggestion(text=f"和{world.npcs[npc_id].name}说话", intent="talk", slots={"target": npc_id}, note=note),
    )


def attack(world: World, monster_id: str, note: str = "") -> Suggestion:
    return world.memoised(
        ("attack", monster_id, note),
        lambda: Suggestion(
            text=f"攻击{world.monsters[monster_id].name}", intent="attack", slots={"target": monster_id}, note=note
        ),
    )


def examine(world: World, entity_id: str, name: str, note: str = "") -> Suggestion:
    def build() -> Suggestion:
        return Suggestion(text=f"查看{name}", intent="examine", slots={"target": entity_id}, note=note)

    if not is_world_id(world, entity_id):
        return build()
    return world.memoised(("examine", entity_id, name, note), build)


def equip(world: World, item_id: str) -> Suggestion:
    return world.memoised(
        ("equip", item_id),
        lambda: Suggestion(text=f"装备{world.items[item_id].name}", intent="equip", slots={"item": item_id}),
    )


def unequip(world: World, item_id: str) -> Suggestion:
    return world.memoised(
        ("unequip", item_id),
        lambda: Suggestion(text=f"卸下{world.items[item_id].name}", intent="unequip", slots={"item": item_id}),
    )


def buy(world: World, item_id: str) -> Suggestion:
    return world.memoised(
        ("buy", item_id),
        lambda: Suggestion(text=f"买{world.items[item_id].name}", intent="buy", slots={"item": item_id, "quantity": 1}),
    )


def sell(world: World, item_id: str) -> Suggestion:
    return world.memoised(
        ("sell", item_id),
        lambda: Suggestion(
            text=f"卖{world.items[item_id].name}", intent="sell", slots={"item": item_id, "quantity": 1}
        ),
    )


def use(world: World, item_id: str) -> Suggestion:
    return world.memoised(
        ("use", item_id),
        lambda: Suggestion(text=f"使用{world.items[item_id].name}", intent="use_item", slots={"item": item_id}),
    )


def plain(world: World, intent_name: str) -> Suggestion:
    """A slot-less intent, said with the first Chinese word of its vocabulary (e.g. 打坐修炼)."""

    def build() -> Suggestion:
        vocabulary = world.intents[intent_name]
        text = vocabulary.zh[0] if vocabulary.zh else vocabulary.example or intent_name
        return Suggestion(text=text, intent=intent_name)

    return world.memoised(("plain", intent_name), build)


def merge(*groups: Iterable[Suggestion]) -> tuple[Suggestion, ...]:
    """The groups in order, without repeating a text or an intent with the same slots."""
    seen: set[object] = set()  # texts, and (intent, sorted slots) pairs
    merged: list[Suggestion] = []
    for group in groups:
        for suggestion in group:
            text = suggestion.text
            if text in seen:
                continue
            slots = suggestion.slots
            action = (suggestion.intent, tuple(sorted(slots.items())) if slots else ())
            if action in seen:
                continue
            seen.add(text)
            seen.add(action)
            merged.append(suggestion)
    return tuple(merged)


def _attack_allowed(world: World, state: PlayerState, monster_id: str) -> bool:
    return verdict(world, state.location, state.realm, "attack", "target", monster_id).allowed


def attackable_here(world: World, state: PlayerState) -> tuple[str, ...]:
    """Monsters of this scene the laws let the player attack."""
    scene = world.scenes[state.location]
    return tuple(m for m in scene.monsters if _attack_allowed(world, state, m))


def _fights_here(world: World, state: PlayerState) -> list[Suggestion]:
    """Beasts worth a try, each with its danger; a hopeless one is offered only as a look, never a fight."""
    found: list[Suggestion] = []
    for monster_id in attackable_here(world, state):
        monster = world.monsters[monster_id]
        level = combat.danger(state, monster).level
        if level == combat.DEADLY:
            found.append(examine(world, monster_id, monster.name, level))
        else:
            found.append(attack(world, monster_id, level))
    return found


def _quest_note(world: World, state: PlayerState, npc_id: str) -> str:
    for quest in world.quests.values():
        if quest.giver != npc_id:
            continue
        progress = state.quests.get(quest.id)
        if progress is not None and not progress.done:
            return "任务进行中"
        if available(world, state, quest):
            return "有任务"
    return ""


def enterable_exits(world: World, state: PlayerState) -> tuple[str, ...]:
    """The scene's exits no law bars to the player's realm: memoised per (scene, realm), all it depends on."""
    location, realm = state.location, state.realm
    scene = world.scenes[location]

    def compute() -> tuple[str, ...]:
        return tuple(e for e in scene.exits if verdict(world, location, realm, "move", "target", e).allowed)

    if realm not in world.realm_index:
        return compute()
    return world.memoised(("enterable_exits", location, realm), compute)


def suggestions_here(world: World, state: PlayerState) -> tuple[Suggestion, ...]:
    """Exits, people, beasts, the shop, usable items, cultivation and exploration, as commands."""
    scene = world.scenes[state.location]
    if state.fight is not None:
        return merge(combat.fight_suggestions(world, state), [move_to(world, e) for e in enterable_exits(world, state)])
    found: list[Suggestion] = [move_to(world, exit_id) for exit_id in enterable_exits(world, state)]
    found += [talk_to(world, npc_id, _quest_note(world, state, npc_id)) for npc_id in scene.npcs]
    found += _fights_here(world, state)
    if scene.shop is not None:
        affordable = [i for i in scene.shop.sells if world.items[i].price <= state.spirit_stones]
        found += [buy(world, item_id) for item_id in affordable[:SHOP_SUGGESTIONS]]
        if scene.shop.buys:
            goods = [
                i
                for i in state.inventory
                if i in world.items
                and not world.items[i].usable
                and verdict(world, state.location, state.realm, "sell", "item", i).allowed
            ]
            found += [sell(world, item_id) for item_id in goods[:SHOP_SUGGESTIONS]]
    for item_id in state.inventory:
        allowed = verdict(world, state.location, state.realm, "use_item", "item", item_id)
        if item_id not in world.items or not world.items[item_id].usable or not allowed.allowed:
            continue
        if world.items[item_id].slot is not None:
            found.append(equip(world, item_id))
        elif useful(world, state, item_id):
            found.append(use(world, item_id))
    if state.qi >= qi_capacity(world, state) and not at_peak(world, state):
        major = state.stage >= world.realm(state.realm).stages
        if major and state.hp <= tribulation_damage(world, state):
            found.append(plain(world, "rest"))
        else:
            found.append(plain(world, "breakthrough"))
    found.append(plain(world, "cultivate"))
    if state.hp < state.max_hp:
        found.append(plain(world, "rest"))
    found.append(plain(world, "explore"))
    if any(not p.done for p in state.quests.values()):
        found.append(plain(world, "quests"))
    return merge(found)


def _preferred_exits(world: World, state: PlayerState, refused: ParsedIntent) -> tuple[str, ...]:
    """Exits where the refused kind of intent is not forbidden; every enterable exit if there is none."""
    candidates = tuple(e for e in enterable_exits(world, state) if e != refused.slot("target"))
    preferred = tuple(e for e in candidates if not intent_forbidden_in(world, e, refused.intent))
    return preferred or candidates


def law_alternatives(
    world: World, state: PlayerState, refused: ParsedIntent, law: Law, here: tuple[Suggestion, ...] | None = None
) -> tuple[Suggestion, ...]:
    """The legal alternatives a law names (e.g. CITY_NO_COMBAT → 去后山, 打坐修炼), computed for here and now.

    `here` is `suggestions_here(world, state)` when the caller has it already.
    """
    if here is None:
        here = suggestions_here(world, state)
    found: list[Suggestion] = []
    for alternative in getattr(law, "alternatives", ()):
        if alternative == "move":
            found += [move_to(world, exit_id) for exit_id in _preferred_exits(world, state, refused)]
        elif alternative in ("talk", "attack", "buy", "sell", "use_item"):
            found += [suggestion for suggestion in here if suggestion.intent == alternative]
        elif alternative in world.intents and alternative != refused.intent:
            found.append(plain(world, alternative))
    return merge(found)
