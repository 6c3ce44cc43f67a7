"""Request and response bodies of the HTTP API (validated at the edge, documented in OpenAPI)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from xianxia.config import LLMMode
from xianxia.engine import ALLOWED_INTENTS
from xianxia.store.parameters import MAX_INTEGER
from xianxia.world.schema import Item, Law, Realm

# Spelled out character by character so that the same class means the same in pydantic's Rust regex, in
# Python's `re` (what a fuzzer generates from) and in ECMAScript (what a browser validates with).
#: Control characters other than tab and newline (Unicode category Cc).
CONTROL = r"\x00-\x08\x0b-\x1f\x7f-\x9f"
#: Unicode White_Space.
SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Some character that is not white space (the text is not blank).
NOT_BLANK = f"[^{SPACE}]"
#: Action text: not blank, and no control character but tab and newline.
ACTION_TEXT = f"^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
#: A name: not blank, and no control character at all.
NAME = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f" + SPACE + r"][^\x00-\x1f\x7f-\x9f]*$"

Prompt = Annotated[str, Field(min_length=1, pattern=NOT_BLANK, description="not blank")]
#: A slot's name, as the engine names them (`target`, `item`, `quantity`, ...).
SlotName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
#: A slot's value: an id, a name or a count, as the engine's `SlotValue`, and no control character at all (it
#: goes into the action log and back into narration).
ActSlotValue = (
    Annotated[str, StringConstraints(strict=True, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
    | Annotated[int, Field(strict=True, ge=1, le=999)]
)


def is_blank(text: str) -> bool:
    """True when `text` has nothing but white space (as `NOT_BLANK` sees it)."""
    return re.search(NOT_BLANK, text) is None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatePlayer(Body):
    """`POST /api/players`."""

    name: str = Field(
        min_length=1,
        max_length=32,
        pattern=NAME,
        examples=["韩立"],
        description="not blank; no control character (format and unassigned characters are refused too)",
    )

    @field_validator("name", mode="before")
    @classmethod
    def _printable(cls, value: object) -> object:
        """Stripped, and refused in words (before the pattern would say it in regex)."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        if any(unicodedata.category(char).startswith("C") for char in value):
            raise ValueError("name must not contain control characters")
        return value


class Act(Body):
    """`POST /api/players/{id}/act`: free text, or an intent with slots (exactly one of `text` and `intent`).

    `text` is limited to XIANXIA_MAX_TEXT_CHARS (500 by default); `intent` is one of the engine's intents.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "去坊市"}, {"intent": "buy", "slots": {"item": "huiqi_dan", "quantity": 3}}]
        },
    )

    text: str | None = Field(
        None, min_length=1, pattern=ACTION_TEXT, description="not blank; no control character but tab and newline"
    )
    intent: str | None = Field(None, json_schema_extra={"enum": [*sorted(ALLOWED_INTENTS), None]})
    # additionalProperties: a name off the pattern is refused, as the runtime does (pydantic leaves it open).
    slots: dict[SlotName, ActSlotValue] = Field(
        default_factory=dict, max_length=4, json_schema_extra={"additionalProperties": False}
    )

    @field_validator("text", mode="before")
    @classmethod
    def _clear_text(cls, value: object) -> object:
        """Say what is wrong in words before the pattern (which states the same rule) would say it in regex."""
        if isinstance(value, str) and value:
            if is_blank(value):
                raise ValueError("text must not be blank")
            if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in value):
                # NUL and the like would go verbatim into the transcript and the replay log.
                raise ValueError("text must not contain control characters (newline and tab are fine)")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Act:
        if (self.text is None) == (self.intent is None):
            raise ValueError("give exactly one of 'text' or 'intent'")
        if self.intent is not None and self.intent not in ALLOWED_INTENTS:
            raise ValueError(f"unknown intent {self.intent!r}; known: {', '.join(sorted(ALLOWED_INTENTS))}")
        return self


class ActHeaders(BaseModel):
    """Optional headers of an action."""

    idempotency_key: str | None = Field(
        None, alias="Idempotency-Key", description="1-128 printable ASCII characters; a retry is applied once"
    )


class LogQuery(BaseModel):
    """Paging of the action log."""

    after: int = Field(0, ge=0, le=MAX_INTEGER, description="only entries after this seq")
    limit: int = Field(1000, ge=1, le=1000)


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable (docs/API.md lists every code)")
    message: str
    fields: list[FieldProblem] | None = Field(None, description="on 422: every field that is wrong")


class ErrorBody(BaseModel):
    error: ErrorDetail


class PlayerOut(BaseModel):
    id: str
    name: str
    realm: str
    realm_name: str
    stage: int
    stage_name: str
    qi: int
    qi_max: int
    hp: int
    max_hp: int
    attack: int
    defense: int
    spirit_stones: int
    location: str
    location_name: str
    inventory: dict[str, int]
    root: str
    root_name: str
    karma: int
    version: int


class PlayerEnvelope(BaseModel):
    player: PlayerOut


class CreatedPlayer(BaseModel):
    player: PlayerOut
    token: str


class IntentOut(BaseModel):
    intent: str
    slots: dict[str, str | int]
    allowed: bool
    reason: str
    law: str | None = None


class SuggestionOut(BaseModel):
    text: str
    intent: str
    slots: dict[str, str | int]


class ActionOut(BaseModel):
    intent: IntentOut
    parser: str
    narration: str
    events: list[dict[str, Any]]
    player: PlayerOut
    suggestions: list[SuggestionOut]
    degraded: bool = False


class LogEntryOut(BaseModel):
    seq: int
    version: int
    text: str | None
    intent: IntentOut
    parser: str
    outcome: dict[str, Any]
    created_at: float


class LogOut(BaseModel):
    player_id: str
    entries: list[LogEntryOut]
    next_after: int | None


class ChatIn(Body):
    """`POST /api/llm/chat` and `/api/llm/chat/sync`."""

    prompt: Prompt = Field(examples=["讲一个筑基修士的故事"])


class ChatOut(BaseModel):
    text: str


class ParseContextIn(Body):
    """What the caller knows of the game; every field optional. Scenes and realms by id, name or alias."""

    scene: str | None = Field(None, max_length=64, examples=["zhucheng", "主城"])
    realm: str | None = Field(None, max_length=64, examples=["lianqi", "炼气期"])
    player_realm: str | None = Field(None, max_length=64, description="the old client's name for `realm`")
    target_realm: str | None = Field(None, max_length=64)
    laws: list[str] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _one_realm(self) -> ParseContextIn:
        if self.realm is not None and self.player_realm is not None and self.realm != self.player_realm:
            raise ValueError("give 'realm' or its old name 'player_realm', not two different realms")
        return self


class ParseIn(Body):
    """`POST /api/llm/parse`."""

    utterance: Prompt = Field(examples=["去坊市"])
    context: ParseContextIn = Field(default_factory=ParseContextIn)


class ParseOut(BaseModel):
    intent: str
    slots: dict[str, str | int]
    allowed: bool
    reason: str
    law: str | None = None
    parser: str
    degraded: bool = False


class BatchIn(Body):
    """`POST /api/llm/batch`: at most `LLM_BATCH_MAX` prompts; `mode: task` queues it."""

    prompts: list[Prompt] = Field(min_length=1, examples=[["你好", "何为筑基"]])
    mode: Literal["inline", "task"] = "inline"


class BatchOut(BaseModel):
    results: list[dict[str, Any]]


class TaskAccepted(BaseModel):
    task_id: str
    status: str


class TaskOut(BaseModel):
    task_id: str
    status: str
    result: Any = None
    error: str | None = None


class ModeIn(Body):
    """`PUT /api/admin/mode`."""

    mode: LLMMode
    share: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        strict=True,
        description="in mode async: the share of players (stable hash) on the async path",
    )
    reason: str = Field("", max_length=200)


class ModeOut(BaseModel):
    mode: LLMMode
    effective: LLMMode
    share: float = 1.0
    previous: LLMMode | None = None
    changed_by: str = ""
    reason: str = ""
    updated_at: float = 0.0


class AuditQuery(BaseModel):
    """How many audit entries to return (newest first)."""

    limit: int = Field(100, ge=1, le=1000, description="at most this many entries, newest first")


class ModeSide(BaseModel):
    mode: LLMMode
    share: float


class AuditEntry(BaseModel):
    """One change of the LLM mode."""

    id: str
    at: float = Field(description="seconds since the epoch, when it was stored")
    changed_by: str = Field(description="admin (by hand), rollback (error rate / p95 watch), upstream (401/402)")
    cause: str = Field(description="manual, error_rate, latency_p95, upstream_401 or upstream_402")
    reason: str
    origin: str = Field(description="the admin client's address and request id, or the worker (host:pid)")
    from_: ModeSide | None = Field(alias="from", description="null: the start-up default, never stored before")
    to: ModeSide | None
    figures: dict[str, Any] | None = Field(description="what an automatic change was decided on")


class AuditOut(BaseModel):
    entries: list[AuditEntry]


class NamedRef(BaseModel):
    id: str
    name: str


class SceneSummary(BaseModel):
    id: str
    name: str
    spirit_density: float
    exits: list[str]


class ScenesOut(BaseModel):
    scenes: list[SceneSummary]


class MonsterRef(NamedRef):
    realm: str


class PriceRef(NamedRef):
    price: int


class ShopOut(BaseModel):
    name: str
    buys: bool
    sells: list[PriceRef]


class SceneDetail(BaseModel):
    id: str
    name: str
    aliases: list[str]
    description: str
    spirit_density: float
    exits: list[NamedRef]
    npcs: list[NamedRef]
    monsters: list[MonsterRef]
    shop: ShopOut | None
    laws: list[str] = Field(description="ids of the laws a player here can run into")


class SceneOut(BaseModel):
    scene: SceneDetail


class RealmsOut(BaseModel):
    realms: list[Realm]


class LawsOut(BaseModel):
    laws: list[Law]


class ItemsOut(BaseModel):
    items: list[Item]


class HealthOut(BaseModel):
    status: str
    pid: int


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    pid: int = Field(description="the worker process that answered")
    checks: dict[str, Any]
