"""The parser interface shared by the rules parser and the LLM parser."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from xianxia.engine.intents import ParsedIntent

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
