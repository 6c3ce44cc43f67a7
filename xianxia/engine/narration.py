"""Chinese prose built from world data: scenes, the player, the inventory, what can be said."""

from __future__ import annotations

from collections.abc import Iterable

from xianxia.engine.state import PlayerState
from xianxia.engine.vitals import qi_capacity
from xianxia.world import World
from xianxia.world.schema import EntryGateLaw, ForbidIntentLaw, Monster, Scene

NUMERALS = "一二三四五六七八九十"
FOUR_STAGES = ("初期", "中期", "后期", "圆满")
SEPARATOR = "、"


def numeral(value: int) -> str:
    """1..10 as a Chinese numeral, 11 and up as 十一, 十二 …"""
    if 1 <= value <= 10:
        return NUMERALS[value - 1]
    if 11 <= value <= 19:
        return "十" + NUMERALS[value - 11]
    return str(value)


def realm_stage_name(world: World, realm_id: str, stage: int) -> str:
    """e.g. 炼气三层, 筑基中期 (a four-stage realm reads 初期 … 圆满)."""
    realm = world.realm(realm_id)
    stage = min(max(1, stage), realm.stages)
    if realm.stages == len(FOUR_STAGES):
        return realm.name + FOUR_STAGES[stage - 1]
    return f"{realm.name}{numeral(stage)}层"


def stage_name(world: World, state: PlayerState) -> str:
    return realm_stage_name(world, state.realm, state.stage)


def monster_grade(world: World, monster: Monster) -> str:
    """A monster's realm and stage, e.g. 炼气七层."""
    return realm_stage_name(world, monster.realm, monster.stage)


COMPASS = {"north": "北", "south": "南", "east": "东", "west": "西", "up": "上", "down": "下"}


def exit_label(world: World, scene: Scene, exit_id: str) -> str:
    """An exit with its compass word where the scene gives one: 北·青云宗."""
    direction = next((COMPASS[d] for d, e in scene.directions.items() if e == exit_id), None)
    name = scene_name(world, exit_id)
    return f"{direction}·{name}" if direction else name


def exit_list(world: World, scene: Scene) -> str:
    """A scene's exits, labelled and joined: 北·青云宗、坊市 (memoised for the world's own scenes)."""

    def compute() -> str:
        return names(exit_label(world, scene, e) for e in scene.exits)

    if world.scenes.get(scene.id) is not scene:
        return compute()
    return world.memoised(("exit_list", scene.id), compute)


def speaker(world: World, npc_id: str) -> str:
    """How an NPC is named when speaking: the name alone (titles like 坊市丹阁 would double it)."""
    npc = world.npcs.get(npc_id)
    return npc.name if npc else npc_id


def names(items: Iterable[str]) -> str:
    return SEPARATOR.join(items) or "无"


def scene_name(world: World, scene_id: str) -> str:
    scene = world.scenes.get(scene_id)
    return scene.name if scene else scene_id


def item_name(world: World, item_id: str) -> str:
    item = world.items.get(item_id)
    return item.name if item else item_id


def entity_name(world: World, entity_id: str) -> str:
    """The display name of any scene, NPC, monster or item id; the id itself if unknown."""
    for index in (world.scenes, world.npcs, world.monsters, world.items):
        entity = index.get(entity_id)
        if entity is not None:
            return entity.name
    return entity_id


def describe_scene(world: World, scene: Scene) -> str:
    """What `look` shows: the scene, its exits, people, beasts, shop and the laws in force.

    Memoised for the world's own scenes: it depends on the world alone, not on who looks.
    """
    if world.scenes.get(scene.id) is not scene:
        return _describe_scene(world, scene)
    return world.memoised(("describe_scene", scene.id), lambda: _describe_scene(world, scene))


def _describe_scene(world: World, scene: Scene) -> str:
    lines = [f"【{scene.name}】{scene.description}", f"出口：{exit_list(world, scene)}"]
    if scene.npcs:
        people = (npc.name + (f"（{npc.title}）" if npc.title else "") for npc in (world.npcs[n] for n in scene.npcs))
        lines.append(f"人物：{names(people)}")
    if scene.monsters:
        beasts = (f"{m.name}（{monster_grade(world, m)}）" for m in (world.monsters[i] for i in scene.monsters))
        lines.append(f"妖兽：{names(beasts)}")
    if scene.shop is not None:
        wares = names(f"{world.items[i].name}（{world.items[i].price}灵石）" for i in scene.shop.sells)
        lines.append(f"商店「{scene.shop.name}」出售：{wares}" + ("，亦收购货物。" if scene.shop.buys else "。"))
    laws = [
        law.name
        for law in world.laws
        if (isinstance(law, ForbidIntentLaw) and scene.id in law.scenes)
        or (isinstance(law, EntryGateLaw) and scene.id in law.scenes)
    ]
    if laws:
        lines.append(f"此地律令：{names(laws)}")
    return "\n".join(lines)


def describe_status(world: World, state: PlayerState) -> str:
    """What `status` shows."""
    root = world.roots.get(state.root)
    lines = [
        f"道号：{state.name}",
        f"灵根：{root.name if root else state.root}",
        f"境界：{stage_name(world, state)}（灵气 {state.qi}/{qi_capacity(world, state)}）",
        f"气血：{state.hp}/{state.max_hp}　攻击：{state.attack}　防御：{state.defense}",
        f"灵石：{state.spirit_stones}　所在：{scene_name(world, state.location)}",
        f"因果：{state.karma}　斩杀：{state.kills}",
    ]
    if state.equipment:
        lines.append(f"装备：{names(item_name(world, i) for i in state.equipment.values())}")
    if state.fight is not None:
        monster = world.monsters.get(state.fight.monster)
        lines.append(f"交战中：{monster.name if monster else state.fight.monster}（余{state.fight.monster_hp}气血）")
    if state.breakthrough_bonus > 0:
        lines.append(f"突破加成：{round(state.breakthrough_bonus * 100)}%")
    return "\n".join(lines)


def describe_inventory(world: World, state: PlayerState) -> str:
    """What `inventory` shows."""
    if not state.inventory:
        return f"储物袋空空如也。灵石：{state.spirit_stones}"
    held = names(f"{item_name(world, item_id)}×{count}" for item_id, count in state.inventory.items())
    return f"储物袋：{held}\n灵石：{state.spirit_stones}"


def describe_commands(world: World) -> str:
    """What can be said, from the world's intent vocabulary."""
    lines = [
        f"· 「{vocabulary.example}」——{vocabulary.description}"
        for vocabulary in world.intents.values()
        if vocabulary.example
    ]
    return "可以这样说：\n" + "\n".join(lines)
