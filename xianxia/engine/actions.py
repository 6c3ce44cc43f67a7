"""The engine's entry points: judge an intent, dispatch it to its handler, build the Outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from random import Random

from xianxia.engine import combat, commerce, cultivation, exploration, info, items
from xianxia.engine.intents import ParsedIntent
from xianxia.engine.laws import forbidding_law, with_verdict
from xianxia.engine.narration import describe_commands
from xianxia.engine.outcome import Event, Outcome
from xianxia.engine.results import Applied, Handler, Refused
from xianxia.engine.state import PlayerState, action_rng
from xianxia.engine.suggestions import law_alternatives, merge, suggestions_here
from xianxia.engine.upgrade import upgrade
from xianxia.world import World

HANDLERS: Mapping[str, Handler] = {
    "look": exploration.look,
    "move": exploration.move,
    "talk": exploration.talk,
    "explore": exploration.explore,
    "cultivate": cultivation.cultivate,
    "breakthrough": cultivation.breakthrough,
    "rest": cultivation.rest,
    "attack": combat.attack,
    "use_item": items.use_item,
    "buy": commerce.buy,
    "sell": commerce.sell,
    "status": info.status,
    "inventory": info.inventory,
    "help": info.help_,
}

NOT_UNDERSTOOD = "没听懂你的意思。"


def apply_action(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Outcome:
    """Apply one intent: laws first, then the action; a refusal leaves the state (and the RNG) untouched.

    A state of older rules is upgraded first; that upgrade stands even when the action is refused.
    """
    state = upgrade(world, state)
    law = forbidding_law(world, state.location, state.realm, intent)
    judged = with_verdict(intent, law)
    if law is not None:
        return Outcome(
            intent=judged,
            narration=f"【{law.name}】{law.reason}",
            events=(Event(type="law_refused", data={"law": law.id, "intent": intent.intent}),),
            state=state,
            suggestions=merge(law_alternatives(world, state, intent, law), suggestions_here(world, state)),
        )
    handler = HANDLERS.get(intent.intent)
    if handler is None:
        # The parser's hint ("也许你想说：…") lives in the reason the judge just cleared.
        hint = intent.reason or NOT_UNDERSTOOD
        return _refuse(world, state, judged, Refused(hint, f"{hint}\n{describe_commands(world)}"))
    result = handler(world, state, judged, rng)
    if isinstance(result, Refused):
        return _refuse(world, state, judged, result)
    return _carry_out(world, judged, result)


def _refuse(world: World, state: PlayerState, judged: ParsedIntent, refused: Refused) -> Outcome:
    return Outcome(
        intent=judged.model_copy(update={"allowed": False, "reason": refused.reason, "law": None}),
        narration=refused.narration or refused.reason,
        events=(Event(type="action_refused", data={"intent": judged.intent, "reason": refused.reason}),),
        state=state,
        suggestions=merge(refused.suggestions, suggestions_here(world, state)),
    )


def _carry_out(world: World, judged: ParsedIntent, applied: Applied) -> Outcome:
    state = applied.state.model_copy(update={"version": applied.state.version + 1})
    return Outcome(
        intent=judged,
        narration=applied.narration,
        events=applied.events,
        state=state,
        suggestions=merge(applied.suggestions, suggestions_here(world, state)),
    )


def replay(world: World, initial: PlayerState, intents: Iterable[ParsedIntent]) -> PlayerState:
    """Re-apply intents in order, each with the RNG of the state before it; the final state."""
    state = initial
    for intent in intents:
        state = apply_action(world, state, intent, action_rng(state)).state
    return state
