"""NPC quests: talk to the giver, slay or fetch, return to them; progress lives in the player's state."""

from __future__ import annotations

from random import Random
from typing import Any

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.measure import counted
from xianxia.engine.outcome import Event
from xianxia.engine.results import Applied, Result
from xianxia.engine.state import PlayerState, QuestProgress
from xianxia.engine.vitals import add_items, clamp_qi, remove_items
from xianxia.world import World
from xianxia.world.schema import Quest, QuestStep


def _active(state: PlayerState, quest_id: str) -> QuestProgress | None:
    progress = state.quests.get(quest_id)
    return progress if progress is not None and not progress.done else None


def _stage_rank(world: World, state: PlayerState) -> int:
    """Stages of the first realm; any later realm counts as past every stage of it."""
    return state.stage if world.realm_rank(state.realm) == 0 else 10_000


def available(world: World, state: PlayerState, quest: Quest) -> bool:
    """Not started yet, its prerequisites done and the player grown enough."""
    if quest.id in state.quests:
        return False
    if any(not (p := state.quests.get(r)) or not p.done for r in quest.requires):
        return False
    return _stage_rank(world, state) >= quest.min_stage


def _step_progress(state: PlayerState, step: QuestStep, progress: QuestProgress) -> int:
    if step.kind == "fetch":
        return min(step.count, state.inventory.get(step.target, 0))
    return min(step.count, progress.count)


def _objective(world: World, step: QuestStep) -> str:
    if step.kind == "slay":
        return f"斩杀{world.monsters[step.target].name}×{step.count}"
    return f"带回{counted(world, step.target, step.count)}"


def count_kill(world: World, state: PlayerState, monster_id: str) -> tuple[dict[str, QuestProgress], list[Event], str]:
    """Quests with a slay step for this monster count the kill; the text tells who to return to."""
    quests = dict(state.quests)
    events: list[Event] = []
    texts: list[str] = []
    for quest_id, progress in state.quests.items():
        quest = world.quests.get(quest_id)
        if quest is None or progress.done:
            continue
        step = quest.steps[progress.step]
        if step.kind != "slay" or step.target != monster_id or progress.count >= step.count:
            continue
        counted_ = progress.model_copy(update={"count": progress.count + 1})
        quests[quest_id] = counted_
        events.append(Event(type="quest_progress", data={"quest": quest_id, "count": counted_.count}))
        giver = world.npcs[quest.giver].name
        tail = f"，回去找{giver}复命" if counted_.count >= step.count else ""
        texts.append(f"（任务「{quest.name}」：{counted_.count}/{step.count}{tail}）")
    return quests, events, "".join(texts)


def quest_talk(world: World, state: PlayerState, npc_id: str) -> Applied | None:
    """What talking to an NPC does for their quests: hand in, move on, remind, or offer a new one."""
    for quest in world.quests.values():
        if quest.giver != npc_id:
            continue
        progress = _active(state, quest.id)
        if progress is not None:
            return _hand_in(world, state, quest, progress)
    for quest in world.quests.values():
        if quest.giver == npc_id and available(world, state, quest):
            started = state.model_copy(update={"quests": {**state.quests, quest.id: QuestProgress()}})
            event = Event(type="quest_started", data={"quest": quest.id})
            return Applied(started, f"【新任务·{quest.name}】{quest.steps[0].text}", (event,))
    return None


def _hand_in(world: World, state: PlayerState, quest: Quest, progress: QuestProgress) -> Applied:
    step = quest.steps[progress.step]
    have = _step_progress(state, step, progress)
    if have < step.count:
        text = f"【任务·{quest.name}】{step.text}（进度{have}/{step.count}）"
        return Applied(state, text, (Event(type="quest_reminded", data={"quest": quest.id}),))
    inventory = dict(state.inventory)
    if step.kind == "fetch":
        inventory = remove_items(inventory, step.target, step.count)
    events = [Event(type="quest_step_done", data={"quest": quest.id, "step": progress.step})]
    if step.kind == "fetch":
        events.append(Event(type="item_lost", data={"item": step.target, "quantity": step.count}))
    if progress.step + 1 < len(quest.steps):
        moved = QuestProgress(step=progress.step + 1)
        advanced = state.model_copy(update={"inventory": inventory, "quests": {**state.quests, quest.id: moved}})
        return Applied(advanced, f"【任务·{quest.name}】{quest.steps[moved.step].text}", tuple(events))
    return _reward(world, state.model_copy(update={"inventory": inventory}), quest, events)


def _reward(world: World, state: PlayerState, quest: Quest, events: list[Event]) -> Applied:
    reward = quest.reward
    inventory = dict(state.inventory)
    for item_id, count in reward.items.items():
        inventory = add_items(inventory, item_id, count)
    qi = clamp_qi(world, state, state.qi + reward.qi)
    done = QuestProgress(step=len(quest.steps) - 1, done=True)
    rewarded = state.model_copy(
        update={
            "inventory": inventory,
            "qi": qi,
            "spirit_stones": state.spirit_stones + reward.spirit_stones,
            "quests": {**state.quests, quest.id: done},
        }
    )
    events.append(Event(type="quest_done", data={"quest": quest.id}))
    gains = [counted(world, i, c) for i, c in reward.items.items()]
    if reward.spirit_stones:
        gains.append(f"{reward.spirit_stones}枚灵石")
        events.append(
            Event(type="stones_changed", data={"amount": reward.spirit_stones, "spirit_stones": rewarded.spirit_stones})
        )
    if qi > state.qi:
        gains.append(f"{qi - state.qi}点灵气")
        events.append(Event(type="qi_gained", data={"amount": qi - state.qi, "qi": qi}))
    got = f"获得{'、'.join(gains)}。" if gains else ""
    return Applied(rewarded, f"【任务完成·{quest.name}】{quest.done_text}{got}", tuple(events))


def quest_log(world: World, state: PlayerState) -> list[dict[str, Any]]:
    """The quests a player has taken, for the `player` document: what is asked and how far along it is."""
    log: list[dict[str, Any]] = []
    for quest_id, progress in state.quests.items():
        quest = world.quests.get(quest_id)
        if quest is None:
            continue
        step = quest.steps[progress.step]
        log.append(
            {
                "id": quest.id,
                "name": quest.name,
                "giver": quest.giver,
                "giver_name": world.npcs[quest.giver].name,
                "step": progress.step + 1,
                "steps": len(quest.steps),
                "objective": _objective(world, step),
                "progress": step.count if progress.done else _step_progress(state, step, progress),
                "needed": step.count,
                "done": progress.done,
            }
        )
    return log


def describe_quests(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    entries = quest_log(world, state)
    if not entries:
        return Applied(state, "你还没有接下任务。和此地的人物说说话，也许有人需要帮手。", (Event(type="quests_shown"),))
    lines = [
        f"· {e['name']}（{e['giver_name']}）："
        + ("已完成" if e["done"] else f"{e['objective']}，{e['progress']}/{e['needed']}")
        for e in entries
    ]
    return Applied(state, "任务：\n" + "\n".join(lines), (Event(type="quests_shown"),))
