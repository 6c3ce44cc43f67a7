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


def laws_in_force(world: World, scene_id: str | None) -> tuple[Law, ...]:
    """The laws a player in `scene_id` can run into: world-wide ones, this scene's, and its exits' gates."""
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
    """Whether this one law forbids the intent for a player of `realm_id` standing in `scene_id`."""
    if isinstance(law, ForbidIntentLaw):
        return scoped_to(law, scene_id) and intent.intent in law.intents
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


def forbidding_law(world: World, scene_id: str, realm_id: str, intent: ParsedIntent) -> Law | None:
    """The first law (in the world's order) that forbids the intent, if any."""
    for law in world.laws:
        if forbids(world, law, scene_id, realm_id, intent):
            return law
    return None


def judge(world: World, scene_id: str, realm_id: str, intent: ParsedIntent) -> ParsedIntent:
    """The intent with the engine's law verdict; whatever verdict the intent carried is ignored."""
    return with_verdict(intent, forbidding_law(world, scene_id, realm_id, intent))


def with_verdict(intent: ParsedIntent, law: Law | None) -> ParsedIntent:
    """The intent refused by `law`, or allowed when it is None."""
    if law is None:
        return intent.model_copy(update={"allowed": True, "reason": "", "law": None})
    return intent.model_copy(update={"allowed": False, "reason": law.reason, "law": law.id})


def intent_forbidden_in(world: World, scene_id: str, intent_name: str) -> bool:
    """Whether a scene- or world-scoped `forbid_intent` law bans this kind of intent in a scene."""
    return any(
        isinstance(law, ForbidIntentLaw) and scoped_to(law, scene_id) and intent_name in law.intents
        for law in world.laws
    )


def tribulation_laws(world: World) -> tuple[TribulationLaw, ...]:
    return tuple(law for law in world.laws if isinstance(law, TribulationLaw))


def karma_laws(world: World) -> tuple[KarmaLaw, ...]:
    return tuple(law for law in world.laws if isinstance(law, KarmaLaw))


def karma_penalty(world: World, karma: int) -> float:
    """How much karma above each karma law's threshold lowers the odds of a realm breakthrough."""
    return sum(max(0, karma - law.threshold) * law.penalty_per_point for law in karma_laws(world))


def karma_cleansed_by_cultivation(world: World) -> int:
    """Karma one session of cultivation dissolves."""
    return sum(law.cultivate_reduces for law in karma_laws(world))
