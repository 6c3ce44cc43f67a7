"""Balance by simulation: scripted players of fixed styles play the bundled world through the engine.

`python -m tests.support.balance` (or `make balance`) prints, per style over fixed seeds, the actions taken to
reach 筑基, deaths, failed breakthroughs and spirit stones earned and spent. Every action is one `apply_action`
with the player's own seeded RNG, exactly as the service applies it, so each run is reproducible.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from xianxia.engine import ParsedIntent, PlayerState, action_rng, apply_action, new_player
from xianxia.engine.combat import DANGER_LEVELS, danger
from xianxia.engine.cultivation import tribulation_damage
from xianxia.engine.items import useful
from xianxia.engine.laws import forbidding_law
from xianxia.engine.quests import available
from xianxia.engine.vitals import qi_capacity
from xianxia.world import World, load_world

SEEDS = tuple(range(1, 21))
MAX_ACTIONS = 3000
GOAL_REALM = "zhuji"


@dataclass
class Run:
    """One scripted player's game: counters the report sums up."""

    style: str
    seed: int
    root: str
    actions: int = 0
    reached: bool = False
    deaths: int = 0
    failed_breakthroughs: int = 0
    failed_tribulations: int = 0
    mishaps: int = 0
    stones_earned: int = 0
    stones_spent: int = 0
    quests_done: int = 0
    events: list[str] = field(default_factory=list)


Policy = Callable[[World, PlayerState, Random], ParsedIntent]


def intent(name: str, **slots: str | int) -> ParsedIntent:
    return ParsedIntent(intent=name, slots=slots)


def path_to(world: World, state: PlayerState, goal: str) -> str | None:
    """The next exit on a shortest legal path to `goal` (entry gates respected)."""
    start = state.location
    if start == goal:
        return None
    seen = {start: ""}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for nxt in world.scenes[here].exits:
            law = forbidding_law(world, here, state.realm, intent("move", target=nxt))
            if nxt in seen or law is not None:
                continue
            seen[nxt] = seen[here] or nxt
            if nxt == goal:
                return seen[nxt]
            queue.append(nxt)
    return None


def go(world: World, state: PlayerState, goal: str) -> ParsedIntent | None:
    step = path_to(world, state, goal)
    return intent("move", target=step) if step else None


def _healing(world: World, state: PlayerState) -> str | None:
    return next((i for i in state.inventory if world.items[i].effects.hp > 0 and useful(world, state, i)), None)


def survival(world: World, state: PlayerState) -> ParsedIntent | None:
    """What every careful style does first: fight on or get out, heal, break through when ready."""
    if state.fight is not None:
        pill = _healing(world, state)
        if state.hp < state.max_hp * 0.35 and pill:
            return intent("use_item", item=pill)
        monster = world.monsters[state.fight.monster]
        if DANGER_LEVELS.index(danger(state, monster, state.fight.monster_hp).level) >= 3:
            return intent("flee")
        return intent("attack")
    if state.qi >= qi_capacity(world, state):
        major = state.stage >= world.realm(state.realm).stages
        if major and state.hp <= tribulation_damage(world, state) * 1.5:
            return intent("rest")
        if major and "zhuji_dan" in state.inventory and state.breakthrough_bonus == 0:
            return intent("use_item", item="zhuji_dan")
        return intent("breakthrough")
    if state.hp < state.max_hp * 0.5:
        return intent("rest")
    return None


def grinder(world: World, state: PlayerState, rng: Random) -> ParsedIntent:
    """Never moves: cultivates where they woke up, breaks through when full, rests before the thunder."""
    return survival(world, state) or intent("cultivate")


def explorer(world: World, state: PlayerState, rng: Random) -> ParsedIntent:
    """Explores everywhere, wanders on, takes the easy fights it stumbles on, cultivates now and then."""
    first = survival(world, state)
    if first is not None:
        return first
    scene = world.scenes[state.location]
    roll = rng.random()
    if roll < 0.4:
        return intent("explore")
    if roll < 0.55:
        easy = [m for m in scene.monsters if DANGER_LEVELS.index(danger(state, world.monsters[m]).level) <= 1]
        if easy and forbidding_law(world, state.location, state.realm, intent("attack", target=easy[0])) is None:
            return intent("attack", target=rng.choice(easy))
    if roll < 0.75:
        exits = [e for e in scene.exits if path_to(world, state, e) == e]
        return intent("move", target=rng.choice(exits))
    return intent("cultivate")


def fighter(world: World, state: PlayerState, rng: Random) -> ParsedIntent:
    """Lives for the hunt: the toughest beast worth a fight, pills when hurt, cultivates only to heal up."""
    first = survival(world, state)
    if first is not None:
        return first
    hunts = [
        (DANGER_LEVELS.index(danger(state, world.monsters[m]).level), world.monsters[m].qi_reward, m, s.id)
        for s in world.scenes.values()
        for m in s.monsters
        if path_to(world, state, s.id) or s.id == state.location
    ]
    worth = sorted((h for h in hunts if h[0] <= 2), key=lambda h: (-h[1], h[0]))
    if not worth:
        return intent("cultivate")
    _level, _qi, monster, scene = worth[0]
    if state.location != scene:
        return go(world, state, scene) or intent("cultivate")
    if forbidding_law(world, scene, state.realm, intent("attack", target=monster)) is not None:
        return intent("cultivate")
    return intent("attack", target=monster)


def _where(world: World, kind: str, target: str) -> str:
    """Where to slay a monster or find an item."""
    for scene in world.scenes.values():
        if kind == "slay" and target in scene.monsters:
            return scene.id
    finds = [
        (e.weight / sum(x.weight for x in s.encounters), s.id)
        for s in world.scenes.values()
        for e in s.encounters
        if e.kind == "item" and e.id == target and e.limit is None
    ]
    if finds:
        return max(finds)[1]
    drops = [m.id for m in world.monsters.values() if any(d.item == target for d in m.drops)]
    return next(s.id for s in world.scenes.values() if set(drops) & set(s.monsters))


def careful(world: World, state: PlayerState, rng: Random) -> ParsedIntent:
    """Follows the quests: takes each on offer, does what it asks when it is safe, else cultivates at the spring."""
    first = survival(world, state)
    if first is not None:
        return first
    home = {npc: s.id for s in world.scenes.values() for npc in s.npcs}
    for quest in world.quests.values():
        progress = state.quests.get(quest.id)
        if progress is None and available(world, state, quest):
            return go(world, state, home[quest.giver]) or intent("talk", target=quest.giver)
        if progress is None or progress.done:
            continue
        step = quest.steps[progress.step]
        have = state.inventory.get(step.target, 0) if step.kind == "fetch" else progress.count
        if have >= step.count:
            return go(world, state, home[quest.giver]) or intent("talk", target=quest.giver)
        if step.kind == "slay" and DANGER_LEVELS.index(danger(state, world.monsters[step.target]).level) > 2:
            continue  # not yet: grow first
        where = _where(world, step.kind, step.target)
        moved = go(world, state, where)
        if moved is not None:
            return moved
        monsters = world.scenes[where].monsters
        if step.kind == "slay":
            return intent("attack", target=step.target)
        prey = [m for m in monsters if any(d.item == step.target for d in world.monsters[m].drops)]
        return intent("attack", target=prey[0]) if prey and rng.random() < 0.6 else intent("explore")
    if "juqi_dan" in state.inventory and useful(world, state, "juqi_dan"):
        return intent("use_item", item="juqi_dan")
    return go(world, state, "lingquan") or intent("cultivate")


STYLES: dict[str, Policy] = {"grinder": grinder, "explorer": explorer, "fighter": fighter, "careful": careful}


def play(world: World, style: str, seed: int) -> Run:
    state = new_player(world, f"{style}-{seed}", style, seed)
    run = Run(style=style, seed=seed, root=state.root)
    choose = STYLES[style]
    policy_rng = Random(seed * 7919)
    while run.actions < MAX_ACTIONS and state.realm == world.realms[0].id:
        outcome = apply_action(world, state, choose(world, state, policy_rng), action_rng(state))
        run.actions += 1
        for event in outcome.events:
            if event.type == "combat_lost":
                run.deaths += 1
            elif event.type == "breakthrough_failed":
                major = any(e.type == "tribulation" for e in outcome.events)
                run.failed_tribulations += major
                run.failed_breakthroughs += not major
            elif event.type == "cultivation_mishap":
                run.mishaps += 1
            elif event.type == "quest_done":
                run.quests_done += 1
            elif event.type == "stones_changed":
                amount = int(event.data["amount"])
                if amount > 0:
                    run.stones_earned += amount
                elif outcome.intent.intent == "buy":
                    run.stones_spent -= amount
        state = outcome.state
    run.reached = world.realm_rank(state.realm) >= world.realm_rank(GOAL_REALM)
    return run


def report(world: World, seeds: tuple[int, ...] = SEEDS) -> dict[str, dict[str, float]]:
    """Per style: median and range of actions to 筑基, and mean deaths, failures and stones."""
    summary: dict[str, dict[str, float]] = {}
    for style in STYLES:
        runs = [play(world, style, seed) for seed in seeds]
        actions = [r.actions for r in runs]
        summary[style] = {
            "reached": sum(r.reached for r in runs) / len(runs),
            "median_actions": statistics.median(actions),
            "min_actions": min(actions),
            "max_actions": max(actions),
            "deaths": statistics.mean(r.deaths for r in runs),
            "failed_breakthroughs": statistics.mean(r.failed_breakthroughs for r in runs),
            "failed_tribulations": statistics.mean(r.failed_tribulations for r in runs),
            "mishaps": statistics.mean(r.mishaps for r in runs),
            "quests_done": statistics.mean(r.quests_done for r in runs),
            "stones_earned": statistics.mean(r.stones_earned for r in runs),
            "stones_spent": statistics.mean(r.stones_spent for r in runs),
        }
    return summary


if __name__ == "__main__":
    figures = report(load_world())
    json.dump(figures, sys.stdout, ensure_ascii=False, indent=1)
    print()
