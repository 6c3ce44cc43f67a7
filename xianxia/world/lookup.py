"""Find a scene or realm by what a person would call it: its id, its name or one of its aliases."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from xianxia.world.loader import World

#: Suffixes Chinese players put after a realm's name ("炼气期", "筑基境") that do not change which realm it is.
REALM_SUFFIXES = ("期", "境", "境界")


def _fold(text: str) -> str:
    """Width, case and surrounding whitespace do not change a name."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _find(wanted: str, entries: Iterable[tuple[str, str, tuple[str, ...]]]) -> str | None:
    folded = _fold(wanted)
    for entity_id, name, aliases in entries:
        if folded in {_fold(entity_id), _fold(name), *(_fold(alias) for alias in aliases)}:
            return entity_id
    return None


def find_scene(world: World, wanted: str) -> str | None:
    """The id of the scene called `wanted` (id, name or alias), or None."""
    if wanted in world.scenes:
        return wanted
    return _find(wanted, ((scene.id, scene.name, scene.aliases) for scene in world.scenes.values()))


def find_realm(world: World, wanted: str) -> str | None:
    """The id of the realm called `wanted` (id, name or alias, with or without 期/境), or None."""
    if wanted in world.realm_index:
        return wanted
    realms = [(realm.id, realm.name, realm.aliases) for realm in world.realms]
    found = _find(wanted, realms)
    if found is not None:
        return found
    stripped = wanted.strip()
    for suffix in REALM_SUFFIXES:
        if stripped.endswith(suffix) and len(stripped) > len(suffix):
            found = _find(stripped.removesuffix(suffix), realms)
            if found is not None:
                return found
    return None
