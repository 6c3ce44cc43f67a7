"""What an action produces: the new state, events, narration and suggestions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.state import PlayerState


class Event(BaseModel):
    """One thing that happened, e.g. `{"type": "qi_gained", "data": {"amount": 24}}`."""

    model_config = ConfigDict(frozen=True)

    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class Suggestion(BaseModel):
    """Something the player can say now, with the intent it maps to."""

    model_config = ConfigDict(frozen=True)

    text: str
    intent: str
    slots: dict[str, str | int] = Field(default_factory=dict)
    #: A short warning shown beside the command, e.g. the danger of a fight (凶险).
    note: str = ""


class Outcome(BaseModel):
    """The engine's answer to one intent. A refused intent leaves `state` unchanged (same version)."""

    model_config = ConfigDict(frozen=True)

    intent: ParsedIntent
    narration: str
    events: tuple[Event, ...] = ()
    state: PlayerState
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.intent.allowed
