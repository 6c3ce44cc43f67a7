"""Pydantic models of the world's JSON files."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)]
Name = Annotated[str, Field(min_length=1, max_length=32)]
LawId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=48)]


class WorldModel(BaseModel):
    """Base for world data: unknown fields are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StatGains(WorldModel):
    max_hp: int = Field(0, ge=0)
    attack: int = Field(0, ge=0)
    defense: int = Field(0, ge=0)


class Realm(WorldModel):
    id: Identifier
    name: Name
    aliases: tuple[str, ...] = ()
    stages: int = Field(ge=1, le=12)
    qi_per_stage: int = Field(ge=1, description="qi needed to fill the first stage")
    qi_growth: float = Field(0.0, ge=0, le=5, description="each later stage needs this share of qi_per_stage more")
    breakthrough_chance: float = Field(gt=0, le=1, description="base chance to reach the next realm")
    stage_breakthrough_chance: float = Field(0.9, gt=0, le=1, description="chance to pass a minor stage")
    gains: StatGains = StatGains()
    stage_gains: StatGains = Field(StatGains(), description="stats gained on each minor stage within the realm")
    failure_hp_fraction: float = Field(0.2, ge=0, le=1)
    failure_qi_fraction: float = Field(0.3, ge=0, le=1)
    description: str = ""


class SpiritualRoot(WorldModel):
    id: Identifier
    name: Name
    weight: float = Field(gt=0, description="relative chance at player creation")
    cultivation_multiplier: float = Field(gt=0, le=10)
    breakthrough_bonus: float = Field(0.0, ge=-0.5, le=0.5)
    description: str = ""


class Encounter(WorldModel):
    kind: Literal["monster", "item", "stones", "qi", "nothing"]
    id: Identifier | None = None
    amount: int = Field(0, ge=0)
    weight: float = Field(gt=0)
    text: str = ""
    limit: int | None = Field(None, ge=1, description="times one player can ever find it (None: no limit)")

    @model_validator(mode="after")
    def _needs_id(self) -> Encounter:
        if self.kind in ("monster", "item") and self.id is None:
            raise ValueError(f"an encounter of kind {self.kind!r} needs an id")
        return self


class Shop(WorldModel):
    name: Name
    sells: tuple[Identifier, ...] = Field(min_length=1)
    buys: bool = True


class Scene(WorldModel):
    id: Identifier
    name: Name
    aliases: tuple[str, ...] = ()
    description: str
    spirit_density: float = Field(gt=0, le=10)
    exits: tuple[Identifier, ...] = ()
    directions: dict[Literal["north", "south", "east", "west", "up", "down"], Identifier] = Field(
        default_factory=dict, description="compass words for exits; each must name one of `exits`"
    )
    npcs: tuple[Identifier, ...] = ()
    monsters: tuple[Identifier, ...] = ()
    shop: Shop | None = None
    encounters: tuple[Encounter, ...] = ()


class ItemEffects(WorldModel):
    hp: int = 0
    qi: int = 0
    max_hp: int = 0
    attack: int = 0
    defense: int = 0
    breakthrough_bonus: float = Field(0.0, ge=0, le=1)


class Item(WorldModel):
    id: Identifier
    name: Name
    aliases: tuple[str, ...] = ()
    kind: Literal["pill", "material", "treasure", "art"]
    measure: str = Field("", max_length=2, description="measure word (颗, 件, 卷); empty: the kind's default")
    slot: Literal["weapon", "armor", "charm"] | None = Field(None, description="equipment slot of a treasure")
    description: str = ""
    price: int = Field(ge=0, description="spirit stones to buy")
    sell_price: int = Field(ge=0)
    usable: bool = False
    effects: ItemEffects = ItemEffects()
    tags: tuple[str, ...] = ()


class NPC(WorldModel):
    id: Identifier
    name: Name
    aliases: tuple[str, ...] = ()
    title: str = ""
    persona: str = Field(min_length=1, description="system prompt for LLM dialogue")
    lines: tuple[str, ...] = Field(min_length=1, description="canned lines when the LLM is off")
    description: str = Field("", description="what `examine` shows of them")


class Drop(WorldModel):
    item: Identifier
    chance: float = Field(gt=0, le=1)


class Monster(WorldModel):
    id: Identifier
    name: Name
    aliases: tuple[str, ...] = ()
    realm: Identifier
    stage: int = Field(1, ge=1, le=12, description="stage within its realm, for grading and danger")
    hp: int = Field(ge=1)
    attack: int = Field(ge=0)
    defense: int = Field(ge=0)
    qi_reward: int = Field(0, ge=0)
    stones: tuple[int, int] = (0, 0)
    drops: tuple[Drop, ...] = ()
    karma: int = Field(1, ge=0, description="karma a kill adds (KARMA_BALANCE)")
    description: str = ""


class ForbidIntentLaw(WorldModel):
    kind: Literal["forbid_intent"]
    id: LawId
    name: Name
    scenes: tuple[Identifier, ...] = Field((), description="empty: world-scoped")
    intents: tuple[str, ...] = Field(min_length=1)
    reason: str
    alternatives: tuple[str, ...] = Field((), description="intents to suggest instead")


class EntryGateLaw(WorldModel):
    kind: Literal["entry_gate"]
    id: LawId
    name: Name
    scenes: tuple[Identifier, ...] = Field(min_length=1)
    min_realm: Identifier
    reason: str


class RealmGapLaw(WorldModel):
    kind: Literal["realm_gap"]
    id: LawId
    name: Name
    max_gap: int = Field(ge=0, description="realms a target may stand above the player")
    reason: str


class ForbiddenTagLaw(WorldModel):
    kind: Literal["forbidden_tag"]
    id: LawId
    name: Name
    tag: str
    intents: tuple[Literal["use_item", "equip", "sell", "buy"], ...] = Field(
        ("use_item",), min_length=1, description="what may not be done with an item carrying the tag"
    )
    reason: str


class TribulationLaw(WorldModel):
    kind: Literal["tribulation"]
    id: LawId
    name: Name
    hp_fraction: float = Field(ge=0, le=1, description="share of max hp the thunder strikes for")
    reason: str


class KarmaLaw(WorldModel):
    kind: Literal["karma"]
    id: LawId
    name: Name
    threshold: int = Field(ge=0, description="karma above which breakthrough odds fall")
    penalty_per_point: float = Field(ge=0, le=1)
    cultivate_reduces: int = Field(1, ge=0)
    reason: str


Law = Annotated[
    ForbidIntentLaw | EntryGateLaw | RealmGapLaw | ForbiddenTagLaw | TribulationLaw | KarmaLaw,
    Field(discriminator="kind"),
]


class IntentVocabulary(WorldModel):
    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    #: Longer words that hold one of this intent's words but mean something else (砍价 is not 砍).
    not_words: tuple[str, ...] = ()
    #: Phrases that name the intent only with an object and when no other verb takes one (我要, 向).
    soft: tuple[str, ...] = ()
    description: str = ""
    example: str = ""


class QuestStep(WorldModel):
    kind: Literal["slay", "fetch"]
    target: Identifier = Field(description="monster to slay or item to bring")
    count: int = Field(1, ge=1, le=99)
    text: str = Field(min_length=1, description="what the giver asks, shown when the step begins")


class QuestReward(WorldModel):
    spirit_stones: int = Field(0, ge=0)
    qi: int = Field(0, ge=0)
    items: dict[Identifier, int] = {}


class Quest(WorldModel):
    id: Identifier
    name: Name
    giver: Identifier = Field(description="the NPC who gives it and to whom it is returned")
    min_stage: int = Field(1, ge=1, description="stage (within the first realm counts) the giver wants first")
    requires: tuple[Identifier, ...] = Field((), description="quests to finish first")
    steps: tuple[QuestStep, ...] = Field(min_length=1)
    reward: QuestReward = QuestReward()
    done_text: str = Field(min_length=1)


class DirectionWords(WorldModel):
    north: tuple[str, ...] = ()
    south: tuple[str, ...] = ()
    east: tuple[str, ...] = ()
    west: tuple[str, ...] = ()
    up: tuple[str, ...] = ()
    down: tuple[str, ...] = ()
    back: tuple[str, ...] = ()


class WorldSettings(WorldModel):
    start_scene: Identifier
    start_spirit_stones: int = Field(ge=0)
    start_hp: int = Field(ge=1)
    start_attack: int = Field(ge=0)
    start_defense: int = Field(ge=0)
    start_inventory: dict[Identifier, int] = {}
    defeat_stone_fraction: float = Field(0.1, ge=0, le=1)
    rest_hp_fraction: float = Field(0.5, ge=0, le=1)
    cultivate_base_qi: int = Field(ge=1)
    cultivate_mishap_chance: float = Field(0.0, ge=0, le=1, description="chance a session goes wrong (qi deviation)")
    explore_decay: float = Field(
        1.0, gt=0, le=1, description="each exploration of a scene multiplies its rewards' odds"
    )
    flee_chance: float = Field(0.7, ge=0, le=1)
    number_words: dict[str, int] = {}
    all_words: tuple[str, ...] = Field((), description="words meaning every one (所有, all)")
    filler_words: tuple[str, ...] = Field((), description="politeness and filler the parser may ignore (请, please)")
    variant_words: dict[str, str] = Field(
        default_factory=dict, description="colloquial spellings read as their standard form (啥 as 什么, 咋 as 怎么)"
    )
    duration_words: tuple[str, ...] = Field(
        (), description="words a player puts inside a two-character verb (练一会功, 睡一觉, 打会儿坐)"
    )
    directions: DirectionWords = DirectionWords()
    narration: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="alternative phrasings per outcome, chosen by the seeded RNG"
    )
