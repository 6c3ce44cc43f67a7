"""The pure game engine: (world, player state, intent, rng) -> outcome. No I/O."""

from xianxia.legacy.rules1.engine.actions import apply_action, replay
from xianxia.legacy.rules1.engine.cultivation import breakthrough_odds
from xianxia.legacy.rules1.engine.intents import ALLOWED_INTENTS, UNKNOWN, ParsedIntent
from xianxia.legacy.rules1.engine.laws import judge, laws_in_force
from xianxia.legacy.rules1.engine.narration import stage_name
from xianxia.legacy.rules1.engine.outcome import Event, Outcome, Suggestion
from xianxia.legacy.rules1.engine.state import PlayerState, action_rng, new_player
from xianxia.legacy.rules1.engine.suggestions import suggestions_here

__all__ = [
    "ALLOWED_INTENTS",
    "UNKNOWN",
    "Event",
    "Outcome",
    "ParsedIntent",
    "PlayerState",
    "Suggestion",
    "action_rng",
    "apply_action",
    "breakthrough_odds",
    "judge",
    "laws_in_force",
    "new_player",
    "replay",
    "stage_name",
    "suggestions_here",
]
