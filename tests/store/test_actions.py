"""Players and actions: atomic commits, conflicts, idempotency and group commit."""

from __future__ import annotations

import asyncio

import pytest

from tests.store.conftest import AnyStore, Backend, make_state, next_action, wait_until
from xianxia.store.base import DuplicateIdempotencyKey, PlayerExists, PlayerRecord, StoreUnavailable, VersionConflict


async def _record(store: AnyStore, player_id: str = "p1") -> PlayerRecord:
    record = await store.get_player(player_id)
    assert record is not None
    return record


async def _act_until_committed(store: AnyStore, player_id: str) -> int:
    """A game worker: read, compute, commit; on a conflict read again. Returns the retries it needed."""
    for retries in range(1000):
        action = next_action(await _record(store, player_id))
        try:
            await store.commit_action(action)
        except VersionConflict:
            continue
        return retries
    raise AssertionError("never committed")


async def test_player_round_trip_keeps_chinese_text(store: AnyStore) -> None:
    state = make_state(name="韩立·青元剑诀")
    await store.create_player(state, "hash-1")

    record = await _record(store)

    assert record.state == state
    assert record.state.inventory == {"筑基丹": 1}
    assert (record.token_hash, record.actions) == ("hash-1", 0)
    assert record.created_at > 0
    assert await store.get_player("nobody") is None
    assert await store.count_players() == 1


async def test_creating_an_existing_player_raises_player_exists(store: AnyStore) -> None:
    await store.create_player(make_state(), "hash-1")

    with pytest.raises(PlayerExists):
        await store.create_player(make_state(name="other"), "hash-2")

    assert (await _record(store)).token_hash == "hash-1"


async def test_commit_action_writes_state_log_and_idempotency_answer(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")
    action = next_action(await _record(store), key="key-1")

    await store.commit_action(action)

    record = await _record(store)
    assert record.state == action.state
    assert (record.state.version, record.actions) == (1, 1)
    [entry] = await store.action_log("p1")
    assert (entry.seq, entry.version, entry.text, entry.parser) == (1, 1, "打坐修炼", "rules")
    assert entry.intent == action.intent
    assert entry.outcome["narration"] == "你盘膝而坐，灵气入体。"
    assert entry.created_at == action.created_at
    assert await store.get_idempotent("p1", "key-1") == action.response
    assert await store.get_idempotent("p1", "key-2") is None


async def test_stale_expected_actions_raises_version_conflict_and_writes_nothing(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")
    stale = await _record(store)
    await store.commit_action(next_action(stale))

    with pytest.raises(VersionConflict):
        await store.commit_action(next_action(stale, key="late"))

    record = await _record(store)
    assert (record.actions, record.state.version) == (1, 1)
    assert [entry.seq for entry in await store.action_log("p1")] == [1]
    assert await store.get_idempotent("p1", "late") is None


async def test_commit_for_an_unknown_player_raises_version_conflict(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")
    ghost = PlayerRecord(state=make_state("ghost"), token_hash="h", actions=0, created_at=0.0)

    with pytest.raises(VersionConflict):
        await store.commit_action(next_action(ghost))


async def test_duplicate_idempotency_key_raises_and_writes_nothing(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")
    await store.commit_action(next_action(await _record(store), key="same"))
    first_answer = await store.get_idempotent("p1", "same")
    after_first = await _record(store)

    with pytest.raises(DuplicateIdempotencyKey):
        await store.commit_action(next_action(after_first, key="same", text="再来一次"))

    record = await _record(store)
    assert record == after_first
    assert [entry.text for entry in await store.action_log("p1")] == ["打坐修炼"]
    assert await store.get_idempotent("p1", "same") == first_answer


async def test_action_log_pages_by_sequence(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")
    for _ in range(5):
        await store.commit_action(next_action(await _record(store)))

    assert [e.seq for e in await store.action_log("p1", after_seq=2, limit=2)] == [3, 4]
    assert [e.seq for e in await store.action_log("p1", after_seq=4)] == [5]
    assert await store.action_log("nobody") == []


async def test_fifty_concurrent_writers_on_one_player_lose_no_update(store: AnyStore) -> None:
    await store.create_player(make_state(), "h")

    retries = await asyncio.gather(*(_act_until_committed(store, "p1") for _ in range(50)))

    record = await _record(store)
    assert (record.actions, record.state.version, record.state.qi) == (50, 50, 50)
    assert [entry.seq for entry in await store.action_log("p1")] == list(range(1, 51))
    assert sum(retries) > 0  # they really did collide


async def test_many_players_committing_at_once_share_few_transactions(store: AnyStore) -> None:
    ids = [f"p{i}" for i in range(100)]
    for player_id in ids:
        await store.create_player(make_state(player_id), "h")
    records = [await _record(store, player_id) for player_id in ids]
    before = store.commit_stats.batches

    await asyncio.gather(*(store.commit_action(next_action(record)) for record in records))

    batches = store.commit_stats.batches - before
    assert 1 <= batches <= 5
    assert store.commit_stats.largest_batch >= 20
    for player_id in ids:
        assert (await _record(store, player_id)).actions == 1


async def test_a_rejected_action_fails_only_its_own_caller_in_a_shared_batch(store: AnyStore) -> None:
    for player_id in ("a", "b", "c"):
        await store.create_player(make_state(player_id), "h")
    a, b, c = [await _record(store, player_id) for player_id in ("a", "b", "c")]
    await store.commit_action(next_action(c, key="used"))
    c_now = await _record(store, "c")
    before = store.commit_stats.batches

    results = await asyncio.gather(
        store.commit_action(next_action(a)),
        store.commit_action(next_action(b)),
        store.commit_action(next_action(b)),  # same expected_actions: only one of the two can win
        store.commit_action(next_action(c_now, key="used")),
        return_exceptions=True,
    )

    assert results[0] is None
    assert sorted(type(r).__name__ for r in results[1:3]) == ["NoneType", "VersionConflict"]
    assert isinstance(results[3], DuplicateIdempotencyKey)
    assert store.commit_stats.batches - before == 1
    assert [(await _record(store, p)).actions for p in ("a", "b", "c")] == [1, 1, 1]


async def test_close_commits_the_queued_actions_first(backend: Backend) -> None:
    store = await backend.open()
    ids = [f"p{i}" for i in range(20)]
    for player_id in ids:
        await store.create_player(make_state(player_id), "h")
    records = [await _record(store, player_id) for player_id in ids]
    commits = [asyncio.create_task(store.commit_action(next_action(r))) for r in records]
    await wait_until(lambda: store.pending_commits == len(ids), "all actions to be queued")

    await store.close()

    assert [task.result() for task in commits] == [None] * len(ids)
    with pytest.raises(StoreUnavailable):
        await store.commit_action(next_action(records[0]))
    reopened = await backend.open()
    try:
        assert [(await _record(reopened, p)).actions for p in ids] == [1] * len(ids)
    finally:
        await reopened.close()


async def test_a_reopened_store_has_everything(backend: Backend) -> None:
    store = await backend.open()
    await store.create_player(make_state(name="南宫婉"), "h")
    for i in range(3):
        await store.commit_action(next_action(await _record(store), key=f"k{i}"))
    await store.set_setting("llm_mode", "off")
    expected = (await _record(store), await store.action_log("p1"), await store.get_idempotent("p1", "k2"))
    await store.close()

    reopened = await backend.open()
    try:
        got = (await _record(reopened), await reopened.action_log("p1"), await reopened.get_idempotent("p1", "k2"))
        assert got == expected
        assert got[0].state.name == "南宫婉"
        setting = await reopened.get_setting("llm_mode")
        assert setting is not None and setting.value == "off"
    finally:
        await reopened.close()


async def test_two_store_instances_on_one_database_interleave_without_losing_updates(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        await first.create_player(make_state("shared"), "h")
        await second.create_player(make_state("other"), "h")
        workers = [_act_until_committed(first if i % 2 else second, "shared") for i in range(30)]
        workers += [_act_until_committed(second if i % 2 else first, "other") for i in range(30)]

        await asyncio.gather(*workers)

        for player_id in ("shared", "other"):
            record = await _record(first, player_id)
            assert (record.actions, record.state.qi) == (30, 30)
            assert [e.seq for e in await second.action_log(player_id)] == list(range(1, 31))
        assert first.commit_stats.actions + second.commit_stats.actions == 60
    finally:
        await first.close()
        await second.close()


async def test_stores_opening_a_new_database_at_once_migrate_safely(backend: Backend) -> None:
    stores = [backend.make() for _ in range(4)]

    await asyncio.gather(*(store.open() for store in stores))

    try:
        for i, store in enumerate(stores):
            await store.create_player(make_state(f"p{i}"), "h")
        assert await stores[0].count_players() == 4
    finally:
        for store in stores:
            await store.close()
