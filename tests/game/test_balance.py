"""Balance holds: a careful quest-follower reaches 筑基 in a few hundred actions, a grinder takes clearly longer,
and the way there has real risk (failed breakthroughs that cost something)."""

from __future__ import annotations

import statistics

from tests.support.balance import play
from xianxia.world import load_world

SEEDS = range(1, 9)


def test_the_careful_player_reaches_foundation_in_about_150_to_300_actions_and_the_grinder_clearly_later() -> None:
    world = load_world()
    careful = [play(world, "careful", seed) for seed in SEEDS]
    grinder = [play(world, "grinder", seed) for seed in SEEDS]
    assert all(run.reached for run in careful)
    careful_median = statistics.median(run.actions for run in careful)
    grinder_median = statistics.median(run.actions for run in grinder)
    assert 150 <= careful_median <= 320, careful_median
    assert grinder_median >= 1.5 * careful_median, (grinder_median, careful_median)
    assert sum(run.failed_tribulations + run.failed_breakthroughs for run in careful) > 0
    assert all(run.quests_done >= 3 for run in careful)
