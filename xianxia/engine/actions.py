"""The engine's entry points: judge an intent, dispatch it to its handler, build the Outcome.

The order of questions: is the thing named here at all (a place reachable, a target present, an item held)?
Then, does a law forbid it? Then, does a fight in progress leave room for it? Only then is it carried out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from random import Random

from xianxia.engine import combat, commerce, cultivation, exploration, info, items, quests
from xianxia.engine.intents import ParsedIntent
from xianxia.engine.laws import forbidding_law, with_verdict
from xianxia.engine.narration import entity_name, names, scene_name
from xianxia.engine.outcome import Event, Outcome, Suggestion
from xianxia.engine.results import Applied, Handler, Refused
from xianxia.engine.state import PlayerState, action_rng
from xianxia.engine.suggestions import law_alternatives, merge, suggestions_here
from xianxia.engine.upgrade import upgrade
from xianxia.world import World
from xianxia.world.schema import Law

HANDLERS: Mapping[str, Handler] = {
    "look": exploration.look,
    "examine": exploration.examine,
    "move": exploration.move,
    "flee": exploration.leave,
    "talk": exploration.talk,
    "explore": exploration.explore,
    "cultivate": cultivation.cultivate,
    "breakthrough": cultivation.breakthrough,
    "rest": cultivation.rest,
    "attack": combat.attack,
    "use_item": items.use_item,
    "equip": items.equip,
    "unequip": items.unequip,
    "buy": commerce.buy,
    "sell": commerce.sell,
    "status": info.status,
    "inventory": info.inventory,
    "quests": quests.describe_quests,
    "help": info.help_,
}

#: What a fight leaves no room for: the player must win, flee or walk away first.
BUSY_IN_FIGHT = frozenset({"cultivate", "breakthrough", "rest", "explore", "buy", "sell", "talk", "equip", "unequip"})
#: How many of the scene's suggestions a miss names.
HINT_SUGGESTIONS = 4

NOT_UNDERSTOOD = "没听懂你的意思。"


def apply_action(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Outcome:
    """Apply one intent: presence, laws, then the action; a refusal leaves the state (and the RNG) untouched.

    A state of older rules is upgraded first; that upgrade stands even when the action is refused.
    """
    state = upgrade(world, state)
    absent = not_here(world, state, intent)
    law = forbidding_law(world, state.location, state.realm, intent)
    judged = with_verdict(intent, law)
    if absent is not None:
        return _absent(world, state, judged, absent, law)
    if law is not None:
        here = suggestions_here(world, state)
        return Outcome(
            intent=judged,
            narration=f"【{law.name}】{law.reason}",
            events=(Event(type="law_refused", data={"law": law.id, "intent": intent.intent}),),
            state=state,
            suggestions=_before(law_alternatives(world, state, intent, law, here), here),
        )
    handler = HANDLERS.get(intent.intent)
    if handler is None:
        # The parser's hint ("也许你想说：…") lives in the reason the judge just cleared.
        hint = intent.reason or NOT_UNDERSTOOD
        here = suggestions_here(world, state)
        return _refuse(world, state, judged, Refused(hint, f"{hint}\n{_scene_hint(world, state, here)}"), here)
    if state.fight is not None and intent.intent in BUSY_IN_FIGHT:
        monster = world.monsters[state.fight.monster].name
        return _refuse(world, state, judged, Refused(f"你正与{monster}交战，无暇他顾：继续攻击、服药，或者逃跑。"))
    result = handler(world, state, judged, rng)
    if isinstance(result, Refused):
        return _refuse(world, state, judged, result)
    if state.fight is not None and intent.intent == "use_item":
        # Swallowing a pill takes the round: the beast strikes meanwhile.
        struck, text, events = combat.monster_turn(world, result.state, rng)
        result = Applied(struck, f"{result.narration}\n{text}", (*result.events, *events), result.suggestions)
    return _carry_out(world, judged, result)


def not_here(world: World, state: PlayerState, intent: ParsedIntent) -> str | None:
    """Why what the intent names is not within reach here, or None: asked before any law."""
    scene = world.scenes[state.location]
    target = intent.slot("target") or ""
    item_id = intent.slot("item")
    if intent.intent == "move":
        return exploration.unreachable(world, state, intent)
    if intent.intent in ("attack", "examine") and target in world.monsters and target not in scene.monsters:
        if state.fight is not None and state.fight.monster == target:
            return None
        haunts = [s.name for s in world.scenes.values() if target in s.monsters]
        where = f"（它出没于{names(haunts)}）" if haunts else ""
        return f"{world.monsters[target].name}不在{scene.name}{where}。"
    if intent.intent in ("attack", "talk", "examine") and target in world.npcs and target not in scene.npcs:
        return f"{world.npcs[target].name}不在{scene.name}。"
    if intent.intent in ("use_item", "equip", "sell") and item_id is not None and state.inventory.get(item_id, 0) < 1:
        worn = "（它正装备在身上）" if item_id in state.equipment.values() else ""
        return f"储物袋中没有{entity_name(world, item_id)}{worn}。"
    if intent.intent == "buy" and item_id is not None:
        if scene.shop is None:
            return f"{scene.name}没有商店，买不到{entity_name(world, item_id)}。"
        if item_id not in scene.shop.sells:
            return f"{scene.shop.name}不卖{entity_name(world, item_id)}。"
    return None


def _absent(world: World, state: PlayerState, judged: ParsedIntent, absent: str, law: Law | None) -> Outcome:
    """Not here: say so first; a law that would also forbid it is named after, and recorded as the verdict."""
    if law is None:
        return _refuse(world, state, judged, Refused(absent))
    here = suggestions_here(world, state)
    return Outcome(
        intent=judged,
        narration=f"{absent}\n况且【{law.name}】{law.reason}",
        events=(
            Event(type="action_refused", data={"intent": judged.intent, "reason": absent}),
            Event(type="law_refused", data={"law": law.id, "intent": judged.intent}),
        ),
        state=state,
        suggestions=_before(law_alternatives(world, state, judged, law, here), here),
    )


def _scene_hint(world: World, state: PlayerState, here: tuple[Suggestion, ...]) -> str:
    """A short hint fitted to the scene: a few things one can say here (`here`), not the whole help."""
    said = "、".join(f"「{s.text}」" for s in here[:HINT_SUGGESTIONS])
    return f"在{scene_name(world, state.location)}可以说：{said}……（说「帮助」看全部说法）"


def _refuse(
    world: World,
    state: PlayerState,
    judged: ParsedIntent,
    refused: Refused,
    here: tuple[Suggestion, ...] | None = None,
) -> Outcome:
    """`here` is `suggestions_here(world, state)` when the caller has it already."""
    return Outcome(
        intent=judged.model_copy(update={"allowed": False, "reason": refused.reason, "law": None}),
        narration=refused.narration or refused.reason,
        events=(Event(type="action_refused", data={"intent": judged.intent, "reason": refused.reason}),),
        state=state,
        suggestions=_before(refused.suggestions, suggestions_here(world, state) if here is None else here),
    )


def _carry_out(world: World, judged: ParsedIntent, applied: Applied) -> Outcome:
    state = applied.state.model_copy(update={"version": applied.state.version + 1})
    return Outcome(
        intent=judged,
        narration=applied.narration,
        events=applied.events,
        state=state,
        suggestions=_before(applied.suggestions, suggestions_here(world, state)),
    )


def _before(first: tuple[Suggestion, ...], here: tuple[Suggestion, ...]) -> tuple[Suggestion, ...]:
    """`merge(first, here)`; `here` (already merged by `suggestions_here`) itself when there is nothing first."""
    return merge(first, here) if first else here


def replay(world: World, initial: PlayerState, intents: Iterable[ParsedIntent]) -> PlayerState:
    """Re-apply intents in order, each with the RNG of the state before it; the final state."""
    state = initial
    for intent in intents:
        state = apply_action(world, state, intent, action_rng(state)).state
    return state
