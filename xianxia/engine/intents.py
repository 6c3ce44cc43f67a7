"""The parsed intent: what a parser hands the engine."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from xianxia.world import INTENTS

#: What a parser may answer besides the engine's intents.
UNKNOWN = "unknown"
ALLOWED_INTENTS: frozenset[str] = frozenset((*INTENTS, UNKNOWN))

#: Slots an intent may carry: entity ids ("target", "item") and a count ("quantity").
#: Strict: a JSON `true` is not a quantity, a number is not an entity id.
SlotValue = (
    Annotated[str, StringConstraints(strict=True, max_length=64)] | Annotated[int, Field(strict=True, ge=1, le=999)]
)


class ParsedIntent(BaseModel):
    """`{intent, slots, allowed, reason}` as a parser answers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: str
    slots: dict[str, SlotValue] = Field(default_factory=dict, max_length=4)
    allowed: bool = True
    reason: str = ""
    law: str | None = None

    def slot(self, name: str) -> str | None:
        value = self.slots.get(name)
        return value if isinstance(value, str) else None

    @property
    def quantity(self) -> int:
        value = self.slots.get("quantity")
        return value if isinstance(value, int) else 1
