"""The world loads, and a broken world fails fast naming the file and the field."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xianxia.world import DEFAULT_WORLD_DIR, INTENTS, WorldError, load_world


def test_default_world_has_the_promised_content() -> None:
    world = load_world()
    assert [realm.name for realm in world.realms][:5] == ["炼气", "筑基", "金丹", "元婴", "化神"]
    assert len(world.scenes) >= 8
    assert world.settings.start_scene == "zhucheng" and world.scenes["zhucheng"].name == "主城"
    law_ids = {law.id for law in world.laws}
    assert {"CROSS_REALM_KILL", "FORBIDDEN_ARTS", "REALM_BREAKTHROUGH", "KARMA_BALANCE"} <= law_ids
    assert set(world.intents) == set(INTENTS)
    assert world.roots and world.items and world.npcs and world.monsters
    assert any(scene.shop for scene in world.scenes.values())


def test_every_exit_leads_back() -> None:
    world = load_world()
    for scene in world.scenes.values():
        for exit_id in scene.exits:
            assert scene.id in world.scenes[exit_id].exits, f"{scene.id} -> {exit_id} has no way back"


@pytest.fixture
def world_copy(tmp_path: Path) -> Path:
    target = tmp_path / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, target)
    return target


def edit(directory: Path, name: str, change: Callable[[Any], None]) -> None:
    path = directory / name
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_copied_world_loads_from_another_directory(world_copy: Path) -> None:
    assert load_world(world_copy).scenes.keys() == load_world().scenes.keys()


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        ("realms.json", lambda d: d[0].pop("stages"), ["realms.json", "(id=lianqi)", "stages"]),
        ("realms.json", lambda d: d[1].update(breakthrough_chance=1.5), ["realms.json", "breakthrough_chance"]),
        (
            "scenes.json",
            lambda d: d[0].update(spirit_density="high"),
            ["scenes.json", "(id=zhucheng)", "spirit_density"],
        ),
        ("scenes.json", lambda d: d[0]["exits"].append("mars"), ["scenes.json", "zhucheng", "mars"]),
        ("scenes.json", lambda d: d[1]["npcs"].append("ghost"), ["scenes.json", "ghost"]),
        ("scenes.json", lambda d: d.append(dict(d[0])), ["scenes.json", "duplicate id 'zhucheng'"]),
        ("items.json", lambda d: d[0].update(colour="red"), ["items.json", "colour"]),
        ("monsters.json", lambda d: d[0].update(realm="immortal"), ["monsters.json", "immortal"]),
        (
            "monsters.json",
            lambda d: d[1]["drops"].append({"item": "nothing", "chance": 0.5}),
            ["monsters.json", "nothing"],
        ),
        ("laws.json", lambda d: d[0].update(kind="maybe"), ["laws.json", "[0]"]),
        ("laws.json", lambda d: d[2].update(min_realm="xian"), ["laws.json", "xian"]),
        ("intents.json", lambda d: d.pop("rest"), ["intents.json", "rest"]),
        ("intents.json", lambda d: d.update(dance={"zh": ["跳舞"]}), ["intents.json", "dance"]),
        ("world.json", lambda d: d.update(start_scene="nowhere"), ["world.json", "start_scene"]),
        ("npcs.json", lambda d: d[0].update(lines=[]), ["npcs.json", "(id=shouwei)", "lines"]),
    ],
)
def test_broken_world_names_file_and_field(
    world_copy: Path, file: str, change: Callable[[Any], None], expected: list[str]
) -> None:
    edit(world_copy, file, change)
    with pytest.raises(WorldError) as raised:
        load_world(world_copy)
    for fragment in expected:
        assert fragment in str(raised.value)


def test_invalid_json_names_the_line(world_copy: Path) -> None:
    (world_copy / "scenes.json").write_text('[{"id": "x",,}]', encoding="utf-8")
    with pytest.raises(WorldError, match=r"scenes.json: invalid JSON at line 1"):
        load_world(world_copy)


def test_missing_file_and_directory(world_copy: Path) -> None:
    (world_copy / "laws.json").unlink()
    with pytest.raises(WorldError, match=r"laws\.json: file is missing"):
        load_world(world_copy)
    with pytest.raises(WorldError, match="does not exist"):
        load_world(world_copy / "nope")


def test_settings_world_dir_is_honoured(world_copy: Path, tmp_path: Path) -> None:
    from xianxia.config import Settings

    edit(world_copy, "scenes.json", lambda d: d[0].update(name="新城"))
    settings = Settings.from_env({"XIANXIA_WORLD_DIR": str(world_copy)})
    assert load_world(settings.world_dir).scenes["zhucheng"].name == "新城"


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("scenes.json", lambda d: d[0]["directions"].update({"north": "jindi"}), "directions.north"),
        ("quests.json", lambda d: d[0].update({"giver": "nobody"}), "quest qingjiao: giver"),
        ("quests.json", lambda d: d[0]["steps"][0].update({"target": "dragon"}), "steps[0].target"),
        ("quests.json", lambda d: d[0]["steps"][0].update({"kind": "dance"}), "quests.json: [0](id=qingjiao).steps"),
        ("items.json", lambda d: d[10].pop("slot"), "item tiejian: slot"),
        ("world.json", lambda d: d["narration"]["minor"].append("{nope}"), "narration.minor[3]"),
    ],
)
def test_new_world_fields_are_checked_naming_file_and_field(
    world_copy: Path, name: str, change: Callable[[Any], None], message: str
) -> None:
    edit(world_copy, name, change)
    with pytest.raises(WorldError) as raised:
        load_world(world_copy)
    assert name in str(raised.value) and message in str(raised.value)


def test_a_world_without_quests_loads(world_copy: Path) -> None:
    (world_copy / "quests.json").unlink()
    assert load_world(world_copy).quests == {}
