"""Values no backend can hold are refused as `InvalidParameter`, identically on both, and poison no batch."""

from __future__ import annotations

import asyncio

import pytest

from tests.store.conftest import AnyStore, make_state, next_action
from xianxia.store.base import InvalidParameter, PlayerRecord
from xianxia.store.parameters import MAX_INTEGER


async def test_log_paging_beyond_64_bits_is_an_invalid_parameter(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")

    assert await store.action_log("p1", after_seq=MAX_INTEGER, limit=MAX_INTEGER) == []
    with pytest.raises(InvalidParameter, match="after"):
        await store.action_log("p1", after_seq=MAX_INTEGER + 1)
    with pytest.raises(InvalidParameter, match="limit"):
        await store.action_log("p1", limit=2**64)
    with pytest.raises(InvalidParameter, match="after"):
        await store.action_log("p1", after_seq=-1)


@pytest.mark.parametrize("lookup", ["get_player", "get_task", "get_setting"])
async def test_a_nul_in_a_lookup_key_is_an_invalid_parameter(store: AnyStore, lookup: str) -> None:
    with pytest.raises(InvalidParameter, match="NUL"):
        await getattr(store, lookup)("p\x001")


async def test_an_action_no_backend_can_hold_fails_alone_and_writes_nothing(store: AnyStore) -> None:
    await store.create_player(make_state("p1"), "h")
    await store.create_player(make_state("p2"), "h")
    bad = next_action(await _record(store, "p1"), text="打坐\x00修炼")
    good = next_action(await _record(store, "p2"))

    results = await asyncio.gather(store.commit_action(bad), store.commit_action(good), return_exceptions=True)

    assert isinstance(results[0], InvalidParameter)
    assert results[1] is None
    assert (await _record(store, "p1")).actions == 0
    assert await store.action_log("p1") == []
    assert [entry.seq for entry in await store.action_log("p2")] == [1]


async def _record(store: AnyStore, player_id: str) -> PlayerRecord:
    record = await store.get_player(player_id)
    assert record is not None
    return record
