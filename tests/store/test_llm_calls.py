"""The rollback watch's samples: every worker's LLM call counts, summed over a window, forgotten when old."""

from __future__ import annotations

import pytest

from tests.store.conftest import AnyStore, Backend
from xianxia.store.base import CALL_LATENCY_BOUNDS, CallSample

BUCKETS = len(CALL_LATENCY_BOUNDS) + 1


def sample(worker: str, seq: int, at: float, calls: int, errors: int, slow: int = 0) -> CallSample:
    latency = [0] * BUCKETS
    latency[3] = calls - slow  # le 0.05
    latency[-1] = slow  # +Inf
    return CallSample(worker, seq, at, calls, errors, tuple(latency))


async def test_nothing_recorded_sums_to_zero(store: AnyStore) -> None:
    totals = await store.llm_call_totals(since=0.0)
    assert (totals.workers, totals.calls, totals.errors, totals.latency) == (0, 0, 0, (0,) * BUCKETS)


async def test_samples_of_every_worker_since_a_moment_are_summed(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    try:
        await one.record_llm_calls(sample("host:1", 1, 100.0, 50, 50))  # before the window
        await one.record_llm_calls(sample("host:1", 2, 200.0, 10, 1))
        await one.record_llm_calls(sample("host:1", 3, 201.0, 5, 0, slow=2))
        await two.record_llm_calls(sample("other:7", 1, 200.5, 7, 3))

        totals = await two.llm_call_totals(since=200.0)
    finally:
        await one.close()
        await two.close()
    assert (totals.workers, totals.calls, totals.errors) == (2, 22, 4)
    assert totals.latency[3] == 20 and totals.latency[-1] == 2 and sum(totals.latency) == 22


async def test_old_samples_are_forgotten_and_new_ones_kept(store: AnyStore) -> None:
    for seq, at in enumerate((10.0, 20.0, 30.0), start=1):
        await store.record_llm_calls(sample("w", seq, at, 1, 0))
    assert await store.forget_llm_calls(before=25.0) == 2
    assert await store.forget_llm_calls(before=25.0) == 0  # idempotent: several workers purge alike
    assert (await store.llm_call_totals(since=0.0)).calls == 1


async def test_a_sample_with_the_wrong_buckets_is_refused(store: AnyStore) -> None:
    with pytest.raises(ValueError, match="latency buckets"):
        await store.record_llm_calls(CallSample("w", 1, 1.0, 1, 0, (1,)))
