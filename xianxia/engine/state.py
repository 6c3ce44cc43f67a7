"""Player state: the engine's input and output, persisted as JSON."""

from __future__ import annotations

from random import Random

from pydantic import BaseModel, ConfigDict, Field

from xianxia.world import World

#: The version of the game rules this engine applies. Bump it whenever a change makes the same (state, intent,
#: seed) give another outcome, and freeze the rules it replaces under `xianxia.legacy`, so old logs still replay.
RULES_VERSION = 2


class QuestProgress(BaseModel):
    """Where a player stands in one quest: the current step, what is counted towards it, whether it is done."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: int = Field(0, ge=0)
    count: int = Field(0, ge=0)
    done: bool = False


class Fight(BaseModel):
    """A fight in progress: it lasts across actions, one round per action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monster: str
    monster_hp: int = Field(ge=1)
    round: int = Field(0, ge=0)


class PlayerState(BaseModel):
    """Everything the engine knows of a player. Immutable: actions return a new one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    seed: int = Field(ge=0)
    root: str
    realm: str
    stage: int = Field(ge=1)
    qi: int = Field(ge=0)
    hp: int = Field(ge=0)
    max_hp: int = Field(ge=1)
    attack: int = Field(ge=0)
    defense: int = Field(ge=0)
    spirit_stones: int = Field(ge=0)
    location: str
    inventory: dict[str, int] = Field(default_factory=dict)
    karma: int = Field(0, ge=0)
    kills: int = Field(0, ge=0)
    breakthrough_bonus: float = Field(0.0, ge=0)
    version: int = Field(0, ge=0)
    #: The rules version the state was last shaped by; a state stored before the field existed is of rules 1.
    rules: int = Field(1, ge=1)
    #: Treasures worn, by slot (weapon, armor, charm); their effects are in the stats while worn.
    equipment: dict[str, str] = Field(default_factory=dict)
    quests: dict[str, QuestProgress] = Field(default_factory=dict)
    fight: Fight | None = None
    #: Times each scene was explored, and times each limited find ("scene:index") was found.
    explored: dict[str, int] = Field(default_factory=dict)
    found: dict[str, int] = Field(default_factory=dict)
    #: The scene the player came from, for 返回 / go back.
    previous: str | None = None


def action_rng(state: PlayerState) -> Random:
    """The RNG of the player's next action: derived from the seed and the version, so replays match."""
    return Random(state.seed * 1_000_003 + state.version)


def new_player(world: World, player_id: str, name: str, seed: int) -> PlayerState:
    """A fresh player at the start scene; the spiritual root is drawn from the seed."""
    rng = Random(seed)
    roots = list(world.roots.values())
    root = rng.choices(roots, weights=[r.weight for r in roots])[0]
    start = world.settings
    return PlayerState(
        id=player_id,
        name=name,
        seed=seed,
        root=root.id,
        realm=world.realms[0].id,
        stage=1,
        qi=0,
        hp=start.start_hp,
        max_hp=start.start_hp,
        attack=start.start_attack,
        defense=start.start_defense,
        spirit_stones=start.start_spirit_stones,
        location=start.start_scene,
        inventory=dict(start.start_inventory),
        rules=RULES_VERSION,
    )
