"""Fighting a monster of the scene, one round per action: the fight is kept in the player's state between them."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from random import Random

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.measure import counted
from xianxia.engine.narration import entity_name, monster_grade, names, scene_name
from xianxia.engine.outcome import Event, Suggestion
from xianxia.engine.phrasing import phrase
from xianxia.engine.quests import count_kill
from xianxia.engine.results import Applied, Refused, Result
from xianxia.engine.state import Fight, PlayerState
from xianxia.engine.vitals import add_items, clamp_qi, fraction_of
from xianxia.world import World
from xianxia.world.schema import Monster

#: From harmless to hopeless; the last one is never offered as a suggestion.
DANGER_LEVELS = ("轻而易举", "稍有风险", "势均力敌", "凶险", "十死无生")
DEADLY = DANGER_LEVELS[-1]


@dataclass(frozen=True, slots=True)
class Danger:
    """An estimate of a fight from here: rounds to win, hp it would likely cost, and a word for it."""

    level: str
    rounds: int
    hp_cost: int


def strike(attack: int, defense: int, rng: Random) -> int:
    """One blow: attack over defense, give or take a fifth, never less than 1."""
    return max(1, round((attack - defense) * rng.uniform(0.8, 1.2)))


def danger(state: PlayerState, monster: Monster, monster_hp: int | None = None) -> Danger:
    """How a fight would likely go, without rolling: average blows each way."""
    dealt = max(1, state.attack - monster.defense)
    taken = max(1, monster.attack - state.defense)
    rounds = ceil((monster_hp or monster.hp) / dealt)
    survive = ceil(state.hp / taken)
    cost = (rounds - 1) * taken
    if rounds > 2 * survive:
        level = DANGER_LEVELS[4]
    elif rounds > survive or cost >= state.hp * 0.8:
        level = DANGER_LEVELS[3]
    elif cost >= state.hp * 0.4:
        level = DANGER_LEVELS[2]
    elif cost >= state.hp * 0.15:
        level = DANGER_LEVELS[1]
    else:
        level = DANGER_LEVELS[0]
    return Danger(level, rounds, cost)


def describe_danger(world: World, state: PlayerState, monster: Monster) -> str:
    estimate = danger(state, monster)
    return (
        f"{monster.name}（{monster_grade(world, monster)}）：{estimate.level}。"
        f"估计{estimate.rounds}回合可胜，约损{estimate.hp_cost}点气血（你现有{state.hp}点）。"
    )


def fight_suggestions(world: World, state: PlayerState) -> tuple[Suggestion, ...]:
    """What to do between rounds: strike again, heal, or run."""
    if state.fight is None:
        return ()
    monster = world.monsters[state.fight.monster]
    # The suggestions themselves are frozen and depend on the world alone: the world's memo keeps them.
    found = [
        world.memoised(
            ("fight_attack", monster.id),
            lambda: Suggestion(text=f"攻击{monster.name}", intent="attack", slots={"target": monster.id}),
        )
    ]
    healing = [i for i in state.inventory if i in world.items and world.items[i].effects.hp > 0]
    if healing and state.hp < state.max_hp:
        item = world.items[healing[0]]
        found.append(
            world.memoised(
                ("fight_heal", item.id),
                lambda: Suggestion(text=f"服用{item.name}", intent="use_item", slots={"item": item.id}),
            )
        )
    found.append(world.memoised(("fight_flee",), lambda: Suggestion(text="逃跑", intent="flee")))
    return tuple(found)


def attack(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    target = intent.slot("target")
    if state.fight is not None:
        if target is not None and target != state.fight.monster:
            current = world.monsters[state.fight.monster].name
            return Refused(f"你正与{current}交战，先分出胜负，或者逃跑。")
        return _round(world, state, world.monsters[state.fight.monster], state.fight, rng)
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
    return _round(world, state, monster, Fight(monster=monster.id, monster_hp=monster.hp), rng)


def _round(world: World, state: PlayerState, monster: Monster, fight: Fight, rng: Random) -> Result:
    number = fight.round + 1
    dealt = strike(state.attack, monster.defense, rng)
    left = fight.monster_hp - dealt
    if left <= 0:
        return _victory(world, state, monster, number, rng)
    taken = strike(monster.attack, state.defense, rng)
    hp = state.hp - taken
    if hp <= 0:
        return _defeat(world, state, monster, number, rng)
    going = Fight(monster=monster.id, monster_hp=left, round=number)
    fought = state.model_copy(update={"hp": hp, "fight": going})
    opening = f"你向{monster.name}（{monster_grade(world, monster)}）出手！" if fight.round == 0 else ""
    text = (
        f"{opening}第{number}回合：你造成{dealt}点伤害（{monster.name}余{left}/{monster.hp}），"
        f"{monster.name}反击，你损失{taken}点气血（{hp}/{state.max_hp}）。"
        f"\n{danger(fought, monster, left).level}——继续攻击、服药，还是逃跑？"
    )
    event = Event(
        type="combat_round",
        data={"monster": monster.id, "round": number, "dealt": dealt, "taken": taken, "monster_hp": left, "hp": hp},
    )
    return Applied(fought, text, (event,), fight_suggestions(world, fought))


def monster_turn(world: World, state: PlayerState, rng: Random) -> tuple[PlayerState, str, tuple[Event, ...]]:
    """The monster strikes while the player does something else (a pill, a step away)."""
    if state.fight is None:
        return state, "", ()
    monster = world.monsters[state.fight.monster]
    taken = strike(monster.attack, state.defense, rng)
    hp = state.hp - taken
    if hp <= 0:
        beaten = _defeat(world, state, monster, state.fight.round + 1, rng)
        assert isinstance(beaten, Applied)
        return beaten.state, beaten.narration, beaten.events
    event = Event(type="combat_struck", data={"monster": monster.id, "taken": taken, "hp": hp})
    return (
        state.model_copy(update={"hp": hp}),
        f"{monster.name}趁机扑来，你损失{taken}点气血（{hp}/{state.max_hp}）。",
        (event,),
    )


def flee(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    """Run from the fight: it may fail, and then the monster strikes. Out of a fight, `leave` goes back."""
    if state.fight is None:
        return Refused("你并未与人交战。要离开此地，说「返回」或「去」加地名。")
    monster = world.monsters[state.fight.monster]
    if rng.random() < world.settings.flee_chance:
        escaped = state.model_copy(update={"fight": None})
        event = Event(type="fled", data={"monster": monster.id, "hp": escaped.hp})
        return Applied(escaped, f"你虚晃一招，甩开了{monster.name}，暂且脱身。", (event,))
    struck, text, events = monster_turn(world, state, rng)
    failed = Event(type="flee_failed", data={"monster": monster.id})
    return Applied(
        struck, f"你想逃，却被{monster.name}缠住！{text}", (failed, *events), fight_suggestions(world, struck)
    )


def disengage(world: World, state: PlayerState, rng: Random) -> tuple[PlayerState, str, tuple[Event, ...]]:
    """Walking out of a fight: the monster gets one parting blow, which may fell the player."""
    if state.fight is None:
        return state, "", ()
    monster = world.monsters[state.fight.monster]
    struck, text, events = monster_turn(world, state, rng)
    if struck.location != state.location:  # felled and carried home
        return struck, text, events
    left = struck.model_copy(update={"fight": None})
    return left, f"你抽身而走，{text}", (*events, Event(type="fled", data={"monster": monster.id, "hp": left.hp}))


def _victory(world: World, state: PlayerState, monster: Monster, rounds: int, rng: Random) -> Result:
    stones = rng.randint(*monster.stones)
    drops = tuple(drop.item for drop in monster.drops if rng.random() < drop.chance)
    inventory = dict(state.inventory)
    for item_id in drops:
        inventory = add_items(inventory, item_id, 1)
    qi = clamp_qi(world, state, state.qi + monster.qi_reward)
    quests, quest_events, quest_text = count_kill(world, state, monster.id)
    won = state.model_copy(
        update={
            "qi": qi,
            "spirit_stones": state.spirit_stones + stones,
            "inventory": inventory,
            "karma": state.karma + monster.karma,
            "kills": state.kills + 1,
            "fight": None,
            "quests": quests,
        }
    )
    events = [
        Event(type="combat_won", data={"monster": monster.id, "rounds": rounds, "hp": won.hp}),
        Event(type="qi_gained", data={"amount": qi - state.qi, "qi": qi}),
        Event(type="stones_changed", data={"amount": stones, "spirit_stones": won.spirit_stones}),
        *(Event(type="item_gained", data={"item": item_id, "quantity": 1}) for item_id in drops),
        *quest_events,
    ]
    if monster.karma:
        events.append(Event(type="karma_changed", data={"amount": monster.karma, "karma": won.karma}))
    loot = f"，得到{names(counted(world, i, 1) for i in drops)}" if drops else ""
    opening = phrase(
        world, "victory", rng, "激战{rounds}回合，你斩杀了{monster}！", rounds=rounds, monster=monster.name
    )
    text = f"{opening}获得{qi - state.qi}点灵气、{stones}枚灵石{loot}（气血{won.hp}/{won.max_hp}）。{quest_text}"
    return Applied(won, text, tuple(events))


def _defeat(world: World, state: PlayerState, monster: Monster, rounds: int, rng: Random) -> Result:
    start = world.settings.start_scene
    lost_stones = fraction_of(state.spirit_stones, world.settings.defeat_stone_fraction)
    beaten = state.model_copy(
        update={
            "hp": max(1, state.max_hp // 10),
            "location": start,
            "previous": None,
            "spirit_stones": state.spirit_stones - lost_stones,
            "fight": None,
        }
    )
    events = (
        Event(type="combat_lost", data={"monster": monster.id, "rounds": rounds, "hp": beaten.hp}),
        Event(type="stones_changed", data={"amount": -lost_stones, "spirit_stones": beaten.spirit_stones}),
        Event(type="moved", data={"from": state.location, "to": start}),
    )
    text = phrase(
        world,
        "defeat",
        rng,
        "你不敌{monster}，重伤昏死过去。醒来时已被人送回{scene}，气血仅剩{hp}点，遗失了{stones}枚灵石。",
        monster=monster.name,
        scene=scene_name(world, start),
        hp=beaten.hp,
        stones=lost_stones,
    )
    return Applied(beaten, text, events)
