"""Fighting a monster of the scene in seeded rounds."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.narration import entity_name, item_name, names, scene_name
from xianxia.legacy.rules1.engine.outcome import Event
from xianxia.legacy.rules1.engine.results import Applied, Refused, Result
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.engine.vitals import add_items, clamp_qi, fraction_of
from xianxia.legacy.rules1.world import World
from xianxia.legacy.rules1.world.schema import Monster

#: A fight that lasts this long ends with both sides drawing back.
MAX_ROUNDS = 50


@dataclass(frozen=True, slots=True)
class Fight:
    """How a fight went: rounds fought and the hp each side was left with."""

    rounds: int
    player_hp: int
    monster_hp: int

    @property
    def won(self) -> bool:
        return self.monster_hp <= 0

    @property
    def lost(self) -> bool:
        return self.player_hp <= 0


def strike(attack: int, defense: int, rng: Random) -> int:
    """One blow: attack over defense, give or take a fifth, never less than 1."""
    return max(1, round((attack - defense) * rng.uniform(0.8, 1.2)))


def fight(state: PlayerState, monster: Monster, rng: Random) -> Fight:
    """Trade blows, the player first, until one side falls or the rounds run out."""
    player_hp, monster_hp = state.hp, monster.hp
    for round_number in range(1, MAX_ROUNDS + 1):
        monster_hp -= strike(state.attack, monster.defense, rng)
        if monster_hp <= 0:
            return Fight(round_number, player_hp, monster_hp)
        player_hp -= strike(monster.attack, state.defense, rng)
        if player_hp <= 0:
            return Fight(round_number, player_hp, monster_hp)
    return Fight(MAX_ROUNDS, player_hp, monster_hp)


def attack(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    target = intent.slot("target")
    if target is None:
        beasts = names(world.monsters[m].name for m in scene.monsters)
        return Refused(f"要攻击谁？{scene.name}的妖兽：{beasts}。")
    if target in world.npcs:
        return Refused(f"{world.npcs[target].name}并非妖兽，不可无故出手。")
    if target not in world.monsters:
        return Refused(f"{scene.name}没有「{entity_name(world, target)}」这样的对手。")
    if target not in scene.monsters:
        return Refused(f"{world.monsters[target].name}不在{scene.name}。")
    monster = world.monsters[target]
    result = fight(state, monster, rng)
    if result.won:
        return _victory(world, state, monster, result, rng)
    if result.lost:
        return _defeat(world, state, monster, result)
    drawn = state.model_copy(update={"hp": max(1, result.player_hp)})
    event = Event(type="combat_drawn", data={"monster": monster.id, "rounds": result.rounds, "hp": drawn.hp})
    return Applied(drawn, f"你与{monster.name}缠斗{result.rounds}回合，难分胜负，只得各自退开。", (event,))


def _victory(world: World, state: PlayerState, monster: Monster, result: Fight, rng: Random) -> Result:
    stones = rng.randint(*monster.stones)
    drops = tuple(drop.item for drop in monster.drops if rng.random() < drop.chance)
    inventory = dict(state.inventory)
    for item_id in drops:
        inventory = add_items(inventory, item_id, 1)
    qi = clamp_qi(world, state, state.qi + monster.qi_reward)
    won = state.model_copy(
        update={
            "hp": result.player_hp,
            "qi": qi,
            "spirit_stones": state.spirit_stones + stones,
            "inventory": inventory,
            "karma": state.karma + monster.karma,
            "kills": state.kills + 1,
        }
    )
    events = [
        Event(
            type="combat_won",
            data={"monster": monster.id, "rounds": result.rounds, "hp_lost": state.hp - won.hp, "hp": won.hp},
        ),
        Event(type="qi_gained", data={"amount": qi - state.qi, "qi": qi}),
        Event(type="stones_changed", data={"amount": stones, "spirit_stones": won.spirit_stones}),
        *(Event(type="item_gained", data={"item": item_id, "quantity": 1}) for item_id in drops),
    ]
    if monster.karma:
        events.append(Event(type="karma_changed", data={"amount": monster.karma, "karma": won.karma}))
    loot = f"，得到{names(item_name(world, i) for i in drops)}" if drops else ""
    text = (
        f"激战{result.rounds}回合，你斩杀了{monster.name}！损失{state.hp - won.hp}点气血，"
        f"获得{qi - state.qi}点灵气、{stones}枚灵石{loot}。"
    )
    return Applied(won, text, tuple(events))


def _defeat(world: World, state: PlayerState, monster: Monster, result: Fight) -> Result:
    start = world.settings.start_scene
    lost_stones = fraction_of(state.spirit_stones, world.settings.defeat_stone_fraction)
    beaten = state.model_copy(
        update={
            "hp": max(1, state.max_hp // 10),
            "location": start,
            "spirit_stones": state.spirit_stones - lost_stones,
        }
    )
    events = (
        Event(type="combat_lost", data={"monster": monster.id, "rounds": result.rounds, "hp": beaten.hp}),
        Event(type="stones_changed", data={"amount": -lost_stones, "spirit_stones": beaten.spirit_stones}),
        Event(type="moved", data={"from": state.location, "to": start}),
    )
    text = (
        f"你不敌{monster.name}，重伤昏死过去。醒来时已被人送回{scene_name(world, start)}，"
        f"气血仅剩{beaten.hp}点，遗失了{lost_stones}枚灵石。"
    )
    return Applied(beaten, text, events)
