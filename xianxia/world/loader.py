"""Load and validate a world directory of JSON files."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from xianxia.world.schema import (
    NPC,
    EntryGateLaw,
    IntentVocabulary,
    Item,
    Law,
    Monster,
    Quest,
    Realm,
    Scene,
    SpiritualRoot,
    WorldSettings,
)

DEFAULT_WORLD_DIR = Path(__file__).parent / "data"

#: Every intent the engine knows; the vocabulary must cover each one.
INTENTS: tuple[str, ...] = (
    "look",
    "examine",
    "move",
    "flee",
    "cultivate",
    "breakthrough",
    "attack",
    "talk",
    "explore",
    "use_item",
    "equip",
    "unequip",
    "buy",
    "sell",
    "rest",
    "status",
    "inventory",
    "quests",
    "help",
)

#: The fields each outcome's narration templates (world.json `narration`) may use.
NARRATION_FIELDS: Mapping[str, frozenset[str]] = {
    "cultivate": frozenset({"scene", "gain", "qi", "capacity"}),
    "mishap": frozenset({"qi_lost", "hp_lost"}),
    "victory": frozenset({"rounds", "monster"}),
    "defeat": frozenset({"monster", "scene", "hp", "stones"}),
    "minor": frozenset({"stage"}),
}


#: Entries a world's memo holds at most: reaching it empties the memo, which then refills with what is asked again.
#: The shipped world's every key fits well below it; the bound is for a memo fed keys nobody foresaw.
MEMO_LIMIT = 8192

T = TypeVar("T")


class WorldError(ValueError):
    """A world file is missing, malformed, or refers to something that does not exist."""


@dataclass(frozen=True)
class World:
    """The validated world: entities indexed by id, realms in ascending order."""

    settings: WorldSettings
    realms: tuple[Realm, ...]
    roots: Mapping[str, SpiritualRoot]
    scenes: Mapping[str, Scene]
    laws: tuple[Law, ...]
    items: Mapping[str, Item]
    npcs: Mapping[str, NPC]
    monsters: Mapping[str, Monster]
    intents: Mapping[str, IntentVocabulary]
    quests: Mapping[str, Quest] = field(default_factory=dict)
    realm_index: Mapping[str, int] = field(default_factory=dict)
    #: Facts derived from this world alone, kept by `memoised`. Not a constructor argument, so a world made by
    #: `dataclasses.replace` starts with an empty memo of its own; not compared, so two worlds are equal as before.
    memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, computed once per world and key, then the same object each time it is asked again.

        For pure facts only: `compute` must depend on nothing but this world and what `key` names, and return
        something immutable (a frozen model, a tuple, a str), since every caller shares it. Build keys from ids
        checked to exist in this world, never from raw player input; a key starts with the name of what it
        computes, e.g. `("enterable_exits", scene_id, realm_id)`. A `compute` that raises stores nothing.
        The memo is bounded: at `MEMO_LIMIT` entries it is emptied first.
        """
        memo = self.memo
        try:
            return cast(T, memo[key])
        except KeyError:
            pass
        value = compute()
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = value
        return value

    def realm(self, realm_id: str) -> Realm:
        return self.realms[self.realm_index[realm_id]]

    def realm_rank(self, realm_id: str) -> int:
        """0 for the first realm, 1 for the next, ..."""
        return self.realm_index[realm_id]


def _read(directory: Path, name: str) -> Any:
    path = directory / name
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise WorldError(f"{path}: file is missing") from None
    except json.JSONDecodeError as exc:
        raise WorldError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _validate(directory: Path, name: str, adapter: TypeAdapter[T]) -> T:
    data = _read(directory, name)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _describe_location(data, first["loc"])
        raise WorldError(f"{directory / name}: {where}: {first['msg']}") from None


def _describe_location(data: Any, loc: Iterable[Any]) -> str:
    """Render a pydantic location, naming list entries by their id where they have one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            entry = node[key]
            label = entry.get("id") if isinstance(entry, dict) else None
            parts.append(f"[{key}]" + (f"(id={label})" if label else ""))
            node = entry
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _index(directory: Path, name: str, entries: Iterable[BaseModel]) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for entry in entries:
        key = entry.id  # type: ignore[attr-defined]
        if key in index:
            raise WorldError(f"{directory / name}: duplicate id {key!r}")
        index[key] = entry
    return index


def load_world(directory: Path | str | None = None) -> World:
    """Load, validate and cross-check every file of a world directory."""
    base = Path(directory) if directory is not None else DEFAULT_WORLD_DIR
    if not base.is_dir():
        raise WorldError(f"{base}: world directory does not exist")

    settings = _validate(base, "world.json", TypeAdapter(WorldSettings))
    realms = tuple(_validate(base, "realms.json", TypeAdapter(list[Realm])))
    roots = _index(base, "roots.json", _validate(base, "roots.json", TypeAdapter(list[SpiritualRoot])))
    scenes = _index(base, "scenes.json", _validate(base, "scenes.json", TypeAdapter(list[Scene])))
    laws = tuple(_validate(base, "laws.json", TypeAdapter(list[Law])))
    items = _index(base, "items.json", _validate(base, "items.json", TypeAdapter(list[Item])))
    npcs = _index(base, "npcs.json", _validate(base, "npcs.json", TypeAdapter(list[NPC])))
    monsters = _index(base, "monsters.json", _validate(base, "monsters.json", TypeAdapter(list[Monster])))
    intents = _validate(base, "intents.json", TypeAdapter(dict[str, IntentVocabulary]))
    # quests.json is optional: a world may have none.
    quest_list = _validate(base, "quests.json", TypeAdapter(list[Quest])) if (base / "quests.json").exists() else []
    quests = _index(base, "quests.json", quest_list)
    realm_index = _index(base, "realms.json", realms)

    world = World(
        settings=settings,
        realms=realms,
        roots=roots,
        scenes=scenes,
        laws=laws,
        items=items,
        npcs=npcs,
        monsters=monsters,
        intents=intents,
        quests=quests,
        realm_index={realm_id: rank for rank, realm_id in enumerate(realm_index)},
    )
    _check_references(base, world)
    return world


def _check_references(base: Path, world: World) -> None:
    def need(condition: bool, name: str, message: str) -> None:
        if not condition:
            raise WorldError(f"{base / name}: {message}")

    need(bool(world.realms), "realms.json", "at least one realm is required")
    need(bool(world.roots), "roots.json", "at least one spiritual root is required")
    need(
        world.settings.start_scene in world.scenes,
        "world.json",
        f"start_scene: unknown scene {world.settings.start_scene!r}",
    )
    for item_id in world.settings.start_inventory:
        need(item_id in world.items, "world.json", f"start_inventory: unknown item {item_id!r}")
    for scene in world.scenes.values():
        for exit_id in scene.exits:
            need(exit_id in world.scenes, "scenes.json", f"scene {scene.id}: exits: unknown scene {exit_id!r}")
        for npc_id in scene.npcs:
            need(npc_id in world.npcs, "scenes.json", f"scene {scene.id}: npcs: unknown npc {npc_id!r}")
        for monster_id in scene.monsters:
            need(
                monster_id in world.monsters,
                "scenes.json",
                f"scene {scene.id}: monsters: unknown monster {monster_id!r}",
            )
        if scene.shop is not None:
            for item_id in scene.shop.sells:
                need(item_id in world.items, "scenes.json", f"scene {scene.id}: shop.sells: unknown item {item_id!r}")
        for encounter in scene.encounters:
            if encounter.kind == "monster":
                need(
                    encounter.id in world.monsters,
                    "scenes.json",
                    f"scene {scene.id}: encounters: unknown monster {encounter.id!r}",
                )
            if encounter.kind == "item":
                need(
                    encounter.id in world.items,
                    "scenes.json",
                    f"scene {scene.id}: encounters: unknown item {encounter.id!r}",
                )
    for monster in world.monsters.values():
        need(
            monster.realm in world.realm_index,
            "monsters.json",
            f"monster {monster.id}: realm: unknown realm {monster.realm!r}",
        )
        need(monster.stones[0] <= monster.stones[1], "monsters.json", f"monster {monster.id}: stones: min above max")
        for drop in monster.drops:
            need(drop.item in world.items, "monsters.json", f"monster {monster.id}: drops: unknown item {drop.item!r}")
    for law in world.laws:
        if hasattr(law, "scenes"):
            for scene_id in law.scenes:
                need(scene_id in world.scenes, "laws.json", f"law {law.id}: scenes: unknown scene {scene_id!r}")
        if isinstance(law, EntryGateLaw):
            need(
                law.min_realm in world.realm_index,
                "laws.json",
                f"law {law.id}: min_realm: unknown realm {law.min_realm!r}",
            )
    for scene in world.scenes.values():
        for word, exit_id in scene.directions.items():
            need(
                exit_id in scene.exits,
                "scenes.json",
                f"scene {scene.id}: directions.{word}: {exit_id!r} is not one of its exits",
            )
    for item in world.items.values():
        need(
            item.kind != "treasure" or not item.usable or item.slot is not None,
            "items.json",
            f"item {item.id}: slot: a usable treasure needs an equipment slot",
        )
    for quest in world.quests.values():
        need(quest.giver in world.npcs, "quests.json", f"quest {quest.id}: giver: unknown npc {quest.giver!r}")
        for required in quest.requires:
            need(required in world.quests, "quests.json", f"quest {quest.id}: requires: unknown quest {required!r}")
        for number, step in enumerate(quest.steps):
            index = world.monsters if step.kind == "slay" else world.items
            need(
                step.target in index,
                "quests.json",
                f"quest {quest.id}: steps[{number}].target: unknown {'monster' if step.kind == 'slay' else 'item'}"
                f" {step.target!r}",
            )
        for item_id in quest.reward.items:
            need(item_id in world.items, "quests.json", f"quest {quest.id}: reward.items: unknown item {item_id!r}")
    for outcome, templates in world.settings.narration.items():
        need(outcome in NARRATION_FIELDS, "world.json", f"narration.{outcome}: unknown outcome")
        for number, template in enumerate(templates):
            problem = _template_problem(template, NARRATION_FIELDS.get(outcome, frozenset()))
            need(problem is None, "world.json", f"narration.{outcome}[{number}]: {problem}")
    law_ids = [law.id for law in world.laws]
    need(len(law_ids) == len(set(law_ids)), "laws.json", "duplicate law id")
    missing = [intent for intent in INTENTS if intent not in world.intents]
    need(not missing, "intents.json", f"missing intents: {', '.join(missing)}")
    unknown = [intent for intent in world.intents if intent not in INTENTS]
    need(not unknown, "intents.json", f"unknown intents: {', '.join(unknown)}")


def _template_problem(template: str, fields: frozenset[str]) -> str | None:
    """Why a narration template cannot be filled with these fields, or None."""
    try:
        template.format(**{name: "" for name in fields})
    except (KeyError, IndexError, ValueError) as exc:
        return f"cannot be filled ({type(exc).__name__}: {exc}); fields: {', '.join(sorted(fields))}"
    return None
