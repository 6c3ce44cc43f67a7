"""What an action handler answers before the dispatcher turns it into an Outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from xianxia.legacy.rules1.engine.intents import ParsedIntent
from xianxia.legacy.rules1.engine.outcome import Event, Suggestion
from xianxia.legacy.rules1.engine.state import PlayerState
from xianxia.legacy.rules1.world import World


@dataclass(frozen=True, slots=True)
class Applied:
    """The action was carried out: the new state (version not yet bumped) and what happened."""

    state: PlayerState
    narration: str
    events: tuple[Event, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """The action cannot be done; `reason` says why. A refusal never touches the RNG."""

    reason: str
    narration: str = ""
    suggestions: tuple[Suggestion, ...] = ()


Result = Applied | Refused
Handler = Callable[[World, PlayerState, ParsedIntent, Random], Result]
