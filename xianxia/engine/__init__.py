"""The pure game engine: (world, player state, intent, rng) -> outcome. No I/O."""

from xianxia.engine.actions import apply_action, replay
from xianxia.engine.cultivation import breakthrough_odds
from xianxia.engine.intents import ALLOWED_INTENTS, UNKNOWN, ParsedIntent
from xianxia.engine.laws import judge, laws_in_force
from xianxia.engine.narration import stage_name
from xianxia.engine.outcome import Event, Outcome, Suggestion
from xianxia.engine.state import RULES_VERSION, PlayerState, action_rng, new_player
from xianxia.engine.suggestions import suggestions_here

__all__ = [
    "ALLOWED_INTENTS",
    "RULES_VERSION",
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
