"""The parsed intent: what a parser hands the engine."""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from xianxia.world import INTENTS

#: What a parser may answer besides the engine's intents.
UNKNOWN = "unknown"
ALLOWED_INTENTS: frozenset[str] = frozenset((*INTENTS, UNKNOWN))

EntityKind = Literal["scene", "npc", "monster", "item"]
#: Which slots each intent may carry: an entity slot lists the kinds it may name; `quantity` is a count;
#: `amount` and `direction` take one of the words listed. Parsers and the LLM validation read this one table.
INTENT_SLOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "move": {"target": ("scene",), "direction": ("north", "south", "east", "west", "up", "down", "back")},
    "attack": {"target": ("monster", "npc")},
    "talk": {"target": ("npc",)},
    "examine": {"target": ("scene", "npc", "monster", "item")},
    "use_item": {"item": ("item",), "quantity": (), "amount": ("all",)},
    "equip": {"item": ("item",)},
    "unequip": {"item": ("item",)},
    "buy": {"item": ("item",), "quantity": (), "amount": ("all",)},
    "sell": {"item": ("item",), "quantity": (), "amount": ("all",)},
}
#: Slots whose value is an entity id (the others hold a count or a fixed word).
ENTITY_SLOTS = frozenset({"target", "item"})

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

    @property
    def wants_all(self) -> bool:
        """`所有` / `all`: every one held (or as many as can be afforded)."""
        return self.slots.get("amount") == "all"


ParserName = Literal["rules", "llm"]


class ParseContext(BaseModel):
    """What a parser may know of the game: where the player stands and what binds them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str | None = Field(None, max_length=64, description="scene id the player is in")
    realm: str | None = Field(None, max_length=64, description="the player's realm id")
    target_realm: str | None = Field(None, max_length=64)
    laws: tuple[str, ...] = Field((), max_length=32, description="short law summaries in force here")
    player_id: str | None = Field(None, max_length=64)


class ParseResult(BaseModel):
    """A parsed intent and which parser decided it."""

    model_config = ConfigDict(frozen=True)

    intent: ParsedIntent
    parser: ParserName
    degraded: bool = False


class IntentParser(Protocol):
    """Anything that turns an utterance into an intent."""

    async def parse(self, utterance: str, context: ParseContext) -> ParseResult: ...
