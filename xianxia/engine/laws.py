"""The world's laws: which intent a law forbids, and the laws that shape breakthroughs."""

from __future__ import annotations

from xianxia.engine.intents import ParsedIntent
from xianxia.world import World
from xianxia.world.schema import (
    EntryGateLaw,
    ForbiddenTagLaw,
    ForbidIntentLaw,
    KarmaLaw,
    Law,
    RealmGapLaw,
    TribulationLaw,
)


def realm_rank(world: World, realm_id: str) -> int:
    """The rank of a realm; an unknown realm (an untrusted context) counts as the lowest."""
    return world.realm_index.get(realm_id, 0)


def scoped_to(law: ForbidIntentLaw, scene_id: str | None) -> bool:
    """A `forbid_intent` law binds in its scenes, or everywhere when it names none."""
    return not law.scenes or scene_id in law.scenes


def bans_here(law: Law, scene_id: str | None, intent_name: str) -> bool:
    """Whether `law` is a `forbid_intent` law that binds in this scene and names this kind of intent."""
    return isinstance(law, ForbidIntentLaw) and scoped_to(law, scene_id) and intent_name in law.intents


def laws_in_force(world: World, scene_id: str | None) -> tuple[Law, ...]:
    """The laws a player in `scene_id` can run into: world-wide ones, this scene's, and its exits' gates."""
    if scene_id is not None and scene_id not in world.scenes:
        return _laws_in_force(world, scene_id)
    return world.memoised(("laws_in_force", scene_id), lambda: _laws_in_force(world, scene_id))


def _laws_in_force(world: World, scene_id: str | None) -> tuple[Law, ...]:
    scene = world.scenes.get(scene_id or "")
    exits = set(scene.exits) if scene is not None else set()
    found: list[Law] = []
    for law in world.laws:
        if isinstance(law, ForbidIntentLaw):
            applies = scoped_to(law, scene_id)
        elif isinstance(law, EntryGateLaw):
            applies = bool(exits.intersection(law.scenes))
        else:
            applies = True
        if applies:
            found.append(law)
    return tuple(found)


def forbids(world: World, law: Law, scene_id: str, realm_id: str, intent: ParsedIntent) -> bool:
    """Whether this one law forbids the intent for a player of `realm_id` standing in `scene_id`.

    A new kind of law needs its case here and in `_may_forbid`, which says when it cannot forbid at all.
    """
    if isinstance(law, ForbidIntentLaw):
        return bans_here(law, scene_id, intent.intent)
    if isinstance(law, EntryGateLaw):
        target = intent.slot("target")
        return (
            intent.intent == "move"
            and target in law.scenes
            and realm_rank(world, realm_id) < realm_rank(world, law.min_realm)
        )
    if isinstance(law, RealmGapLaw):
        monster = world.monsters.get(intent.slot("target") or "")
        return (
            intent.intent == "attack"
            and monster is not None
            and realm_rank(world, monster.realm) - realm_rank(world, realm_id) > law.max_gap
        )
    if isinstance(law, ForbiddenTagLaw):
        item = world.items.get(intent.slot("item") or "")
        return intent.intent in law.intents and item is not None and law.tag in item.tags
    # Tribulation and karma laws shape outcomes; they never refuse an intent.
    return False


def is_world_id(world: World, entity_id: str | None) -> bool:
    """Whether an id names a scene, NPC, monster or item of this world: a key the world's memo may hold."""
    return entity_id is not None and (
        entity_id in world.scenes or entity_id in world.monsters or entity_id in world.items or entity_id in world.npcs
    )


def _memoisable(world: World, scene_id: str, realm_id: str, intent_name: str) -> bool:
    """Whether facts about these may be memoised: a scene, realm and intent that exist in the world."""
    return scene_id in world.scenes and realm_id in world.realm_index and intent_name in world.intents


def _may_forbid(world: World, law: Law, scene_id: str, realm_id: str, intent_name: str) -> bool:
    """Whether some slots could make `law` forbid this intent here; False only where `forbids` never could."""
    if isinstance(law, ForbidIntentLaw):
        return bans_here(law, scene_id, intent_name)
    if isinstance(law, EntryGateLaw):
        return intent_name == "move" and realm_rank(world, realm_id) < realm_rank(world, law.min_realm)
    if isinstance(law, RealmGapLaw):
        return intent_name == "attack"
    if isinstance(law, ForbiddenTagLaw):
        return intent_name in law.intents
    return not isinstance(law, TribulationLaw | KarmaLaw)


def _laws_to_ask(world: World, scene_id: str, realm_id: str, intent_name: str) -> tuple[Law, ...]:
    """The laws that might forbid this kind of intent here, in the world's order: most often none, or one.

    Memoised per (scene, realm, intent), so the key never holds a slot; the slots are judged on each call.
    """
    if not _memoisable(world, scene_id, realm_id, intent_name):
        return world.laws
    return world.memoised(
        ("laws_to_ask", scene_id, realm_id, intent_name),
        lambda: tuple(law for law in world.laws if _may_forbid(world, law, scene_id, realm_id, intent_name)),
    )


def forbidding_law(world: World, scene_id: str, realm_id: str, intent: ParsedIntent) -> Law | None:
    """The first law (in the world's order) that forbids the intent, if any."""
    for law in _laws_to_ask(world, scene_id, realm_id, intent.intent):
        if forbids(world, law, scene_id, realm_id, intent):
            return law
    return None


def judge(world: World, scene_id: str, realm_id: str, intent: ParsedIntent) -> ParsedIntent:
    """The intent with the engine's law verdict; whatever verdict the intent carried is ignored."""
    return with_verdict(intent, forbidding_law(world, scene_id, realm_id, intent))


def verdict(world: World, scene_id: str, realm_id: str, intent_name: str, slot: str, entity_id: str) -> ParsedIntent:
    """`judge` of an intent the engine builds itself, e.g. attack a monster of the scene: `{slot: entity_id}`.

    The same frozen verdict each time for ids of the world (it depends on nothing else); built afresh otherwise.
    """

    def build() -> ParsedIntent:
        return judge(world, scene_id, realm_id, ParsedIntent(intent=intent_name, slots={slot: entity_id}))

    if not (_memoisable(world, scene_id, realm_id, intent_name) and is_world_id(world, entity_id)):
        return build()
    return world.memoised(("verdict", scene_id, realm_id, intent_name, slot, entity_id), build)


def with_verdict(intent: ParsedIntent, law: Law | None) -> ParsedIntent:
    """The intent refused by `law`, or allowed when it is None."""
    if law is None:
        if intent.allowed and intent.reason == "" and intent.law is None:
            return intent  # already this verdict, and frozen: a copy would be the same intent
        return intent.model_copy(update={"allowed": True, "reason": "", "law": None})
    return intent.model_copy(update={"allowed": False, "reason": law.reason, "law": law.id})


def intent_forbidden_in(world: World, scene_id: str, intent_name: str) -> bool:
    """Whether a scene- or world-scoped `forbid_intent` law bans this kind of intent in a scene."""

    def banned() -> bool:
        return any(bans_here(law, scene_id, intent_name) for law in world.laws)

    if scene_id not in world.scenes or intent_name not in world.intents:
        return banned()
    return world.memoised(("intent_forbidden_in", scene_id, intent_name), banned)


def tribulation_laws(world: World) -> tuple[TribulationLaw, ...]:
    return world.memoised(
        ("tribulation_laws",), lambda: tuple(law for law in world.laws if isinstance(law, TribulationLaw))
    )


def karma_laws(world: World) -> tuple[KarmaLaw, ...]:
    return world.memoised(("karma_laws",), lambda: tuple(law for law in world.laws if isinstance(law, KarmaLaw)))


def karma_penalty(world: World, karma: int) -> float:
    """How much karma above each karma law's threshold lowers the odds of a realm breakthrough."""
    return sum(max(0, karma - law.threshold) * law.penalty_per_point for law in karma_laws(world))


def karma_cleansed_by_cultivation(world: World) -> int:
    """Karma one session of cultivation dissolves."""
    return world.memoised(("karma_cleansed",), lambda: sum(law.cultivate_reduces for law in karma_laws(world)))
