"""The world: JSON data, its schema and its loader."""

from xianxia.legacy.rules1.world.loader import DEFAULT_WORLD_DIR, INTENTS, World, WorldError, load_world

__all__ = ["DEFAULT_WORLD_DIR", "INTENTS", "World", "WorldError", "load_world"]
