"""Load and validate a world directory of JSON files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from xianxia.legacy.rules1.world.schema import (
    NPC,
    EntryGateLaw,
    IntentVocabulary,
    Item,
    Law,
    Monster,
    Realm,
    Scene,
    SpiritualRoot,
    WorldSettings,
)

DEFAULT_WORLD_DIR = Path(__file__).parent / "data"

#: Every intent the engine knows; the vocabulary must cover each one.
INTENTS: tuple[str, ...] = (
    "look",
    "move",
    "cultivate",
    "breakthrough",
    "attack",
    "talk",
    "explore",
    "use_item",
    "buy",
    "sell",
    "rest",
    "status",
    "inventory",
    "help",
)


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
    realm_index: Mapping[str, int] = field(default_factory=dict)

    def realm(self, realm_id: str) -> Realm:
        return self.realms[self.realm_index[realm_id]]

    def realm_rank(self, realm_id: str) -> int:
        """0 for the first realm, 1 for the next, ..."""
        return self.realm_index[realm_id]


T = TypeVar("T")


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
    law_ids = [law.id for law in world.laws]
    need(len(law_ids) == len(set(law_ids)), "laws.json", "duplicate law id")
    missing = [intent for intent in INTENTS if intent not in world.intents]
    need(not missing, "intents.json", f"missing intents: {', '.join(missing)}")
    unknown = [intent for intent in world.intents if intent not in INTENTS]
    need(not unknown, "intents.json", f"unknown intents: {', '.join(unknown)}")
