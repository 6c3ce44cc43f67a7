"""The rollout share: a stable per-player split between the async path and the path it replaces."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xianxia.control.mode import ModeState, ModeSwitch, player_bucket
from xianxia.store.base import Store
from xianxia.store.factory import create_store

PLAYERS = [f"player-{i:04d}" for i in range(400)]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'mode.db'}")
    await opened.open()
    yield opened
    await opened.close()


def test_a_players_bucket_is_stable_and_spread() -> None:
    assert player_bucket("abc") == player_bucket("abc")
    buckets = [player_bucket(p) for p in PLAYERS]
    assert all(0.0 <= b < 1.0 for b in buckets)
    assert 80 <= sum(b < 0.25 for b in buckets) <= 120  # about a quarter of 400


async def test_share_sends_that_fraction_of_players_down_the_async_path(store: Store) -> None:
    modes = ModeSwitch(store, "async", llm_available=True)
    await modes.set("async", changed_by="test", share=0.25)
    paths = {p: modes.path_for(p) for p in PLAYERS}
    on_async = [p for p, path in paths.items() if path == "async"]
    assert set(paths.values()) == {"async", "sync"}
    assert on_async == [p for p in PLAYERS if player_bucket(p) < 0.25]
    assert [modes.path_for(p) for p in PLAYERS] == list(paths.values())  # nobody flips between calls
    await modes.set("async", changed_by="test", share=0.5)
    assert {p for p in PLAYERS if modes.path_for(p) == "async"} >= set(on_async)  # raising keeps those already in


async def test_share_does_not_matter_outside_async(store: Store) -> None:
    modes = ModeSwitch(store, "async", llm_available=True)
    await modes.set("sync", changed_by="test", share=0.25)
    assert {modes.path_for(p) for p in PLAYERS} == {"sync"}
    await modes.set("off", changed_by="test", share=0.25)
    assert {modes.path_for(p) for p in PLAYERS} == {"off"}
    await modes.set("async", changed_by="test", share=0.0)
    assert {modes.path_for(p) for p in PLAYERS} == {"sync"}


async def test_another_worker_follows_a_share_change(store: Store) -> None:
    changes: list[str] = []
    here = ModeSwitch(store, "async", llm_available=True)
    there = ModeSwitch(store, "async", llm_available=True, on_change=changes.append)
    await here.set("async", changed_by="test", share=0.25)
    await there.refresh()
    assert there.share == 0.25 and changes == ["async"]  # same mode, new share: announced
    assert [there.path_for(p) for p in PLAYERS] == [here.path_for(p) for p in PLAYERS]


def test_stored_share_round_trips_and_bad_values_mean_everyone() -> None:
    state = ModeState(mode="async", share=0.25, changed_by="admin")
    decoded = ModeState.decode(state.encode(), 1.0)
    assert decoded is not None and decoded.share == 0.25
    legacy = ModeState.decode('{"mode": "async", "reason": "", "changed_by": "admin"}', 1.0)
    assert legacy is not None and legacy.share == 1.0
    broken = ModeState.decode('{"mode": "async", "share": 7}', 1.0)
    assert broken is not None and broken.share == 1.0
