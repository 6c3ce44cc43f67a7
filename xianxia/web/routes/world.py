"""Read-only world routes: scenes, realms, laws, items."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_response

from xianxia.engine import laws_in_force
from xianxia.web.errors import NotFound
from xianxia.web.openapi import errors
from xianxia.web.schemas import ItemsOut, LawsOut, RealmsOut, SceneOut, ScenesOut
from xianxia.web.services import services
from xianxia.world import World

blueprint = Blueprint("world", __name__, url_prefix="/api/world")


def _names(world: World, kind: str, ids: tuple[str, ...]) -> list[dict[str, str]]:
    table: dict[str, Any] = getattr(world, kind)
    return [{"id": entity_id, "name": table[entity_id].name} for entity_id in ids]


def scene_summary(world: World, scene_id: str) -> dict[str, Any]:
    scene = world.scenes[scene_id]
    return {
        "id": scene.id,
        "name": scene.name,
        "spirit_density": scene.spirit_density,
        "exits": [exit_id for exit_id in scene.exits],
    }


@blueprint.get("/scenes")
@document_response(ScenesOut)
async def scenes() -> dict[str, Any]:
    """Every scene with its exits."""
    world = services().world
    return {"scenes": [scene_summary(world, scene_id) for scene_id in world.scenes]}


@blueprint.get("/scenes/<scene_id>")
@document_response(SceneOut)
@errors(404)
async def scene(scene_id: str) -> dict[str, Any]:
    """One scene in full: exits, NPCs, monsters, shop and the laws in force there."""
    world = services().world
    found = world.scenes.get(scene_id)
    if found is None:
        raise NotFound(f"no scene with id {scene_id!r}")
    laws = [law.id for law in laws_in_force(world, scene_id)]
    return {
        "scene": {
            "id": found.id,
            "name": found.name,
            "aliases": list(found.aliases),
            "description": found.description,
            "spirit_density": found.spirit_density,
            "exits": _names(world, "scenes", found.exits),
            "npcs": _names(world, "npcs", found.npcs),
            "monsters": [
                {"id": m, "name": world.monsters[m].name, "realm": world.monsters[m].realm} for m in found.monsters
            ],
            "shop": None
            if found.shop is None
            else {
                "name": found.shop.name,
                "buys": found.shop.buys,
                "sells": [
                    {"id": i, "name": world.items[i].name, "price": world.items[i].price} for i in found.shop.sells
                ],
            },
            "laws": laws,
        }
    }


@blueprint.get("/realms")
@document_response(RealmsOut)
async def realms() -> dict[str, Any]:
    """The realms in ascending order, with their stages and breakthrough odds."""
    return {"realms": [realm.model_dump() for realm in services().world.realms]}


@blueprint.get("/laws")
@document_response(LawsOut)
async def laws() -> dict[str, Any]:
    """Every law, world- and scene-scoped."""
    return {"laws": [law.model_dump() for law in services().world.laws]}


@blueprint.get("/items")
@document_response(ItemsOut)
async def items() -> dict[str, Any]:
    """Every item: name, kind, description, prices, effects (the client names a player's inventory with it)."""
    return {"items": [item.model_dump() for item in services().world.items.values()]}
