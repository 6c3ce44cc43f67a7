"""Several phrasings per outcome, from the world's `narration` templates, picked by the action's seeded RNG."""

from __future__ import annotations

from random import Random

from xianxia.world import World


def phrase(world: World, outcome: str, rng: Random, fallback: str, **fields: object) -> str:
    """One of the world's templates for `outcome`, filled in; `fallback` when the world has none.

    The RNG is drawn from only when there is a choice, so a world with one template per outcome draws nothing.
    """
    templates = world.settings.narration.get(outcome, ())
    if not templates:
        return fallback.format(**fields)
    template = templates[0] if len(templates) == 1 else rng.choice(templates)
    return template.format(**fields)
