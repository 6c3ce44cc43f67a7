"""Scenes and realms are found by id, name or alias, the way the old client and players name them."""

from __future__ import annotations

import pytest

from xianxia.world import load_world
from xianxia.world.lookup import find_realm, find_scene

WORLD = load_world()


@pytest.mark.parametrize(
    ("wanted", "scene"),
    [
        ("zhucheng", "zhucheng"),
        ("主城", "zhucheng"),
        ("青云城", "zhucheng"),
        ("Main City", "zhucheng"),
        ("坊市", "fangshi"),
    ],
)
def test_a_scene_is_found_by_id_name_or_alias(wanted: str, scene: str) -> None:
    assert find_scene(WORLD, wanted) == scene


@pytest.mark.parametrize(
    ("wanted", "realm"),
    [("lianqi", "lianqi"), ("炼气", "lianqi"), ("炼气期", "lianqi"), ("练气", "lianqi"), ("筑基境", "zhuji")],
)
def test_a_realm_is_found_by_id_name_alias_or_with_its_suffix(wanted: str, realm: str) -> None:
    assert find_realm(WORLD, wanted) == realm


@pytest.mark.parametrize("wanted", ["atlantis", "", "期", "主城城"])
def test_what_matches_nothing_is_not_found(wanted: str) -> None:
    assert find_scene(WORLD, wanted) is None
    assert find_realm(WORLD, wanted) is None
