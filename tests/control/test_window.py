"""The tally a worker keeps for the rollback watch, and the quantile of a summed histogram."""

from __future__ import annotations

import threading

import pytest

from xianxia.control.window import CallTally, quantile
from xianxia.store.base import CALL_LATENCY_BOUNDS

BUCKETS = len(CALL_LATENCY_BOUNDS) + 1


def histogram(**counts: int) -> tuple[int, ...]:
    """Counts by bucket index, e.g. histogram(b9=5) puts five calls in the `le=5.0` bucket."""
    latency = [0] * BUCKETS
    for name, count in counts.items():
        latency[int(name[1:])] = count
    return tuple(latency)


def test_calls_are_counted_per_bucket_and_errors_apart_from_successes() -> None:
    tally = CallTally()
    tally.request("parse", "ok", 0.004)  # le 0.005
    tally.request("parse", "ok", 0.005)  # le 0.005: the bound is inclusive, as Prometheus's `le`
    tally.request("chat", "server_error", 7.0, "sync")  # le 10
    tally.request("parse", "timeout", 120.0)  # +Inf
    sample = tally.take("w1", 1, 100.0)
    assert sample is not None
    assert (sample.worker, sample.seq, sample.at, sample.calls, sample.errors) == ("w1", 1, 100.0, 4, 2)
    assert sample.latency == histogram(b0=2, b10=1, b13=1)
    assert tally.take("w1", 2, 101.0) is None  # taken: nothing left until the next call


@pytest.mark.parametrize("outcome", ["cancelled", "unavailable", "busy"])
def test_what_says_nothing_of_the_llm_path_is_not_judged(outcome: str) -> None:
    tally = CallTally()
    tally.request("parse", outcome, 9.0)
    assert tally.take("w1", 1, 1.0) is None


def test_a_sample_the_store_refused_is_counted_again() -> None:
    tally = CallTally()
    tally.request("parse", "ok", 0.2)
    refused = tally.take("w1", 1, 1.0)
    assert refused is not None
    tally.request("parse", "server_error", 0.3)
    tally.put_back(refused)
    again = tally.take("w1", 1, 2.0)
    assert again is not None and (again.calls, again.errors) == (2, 1)
    assert again.latency == histogram(b5=1, b6=1)


def test_calls_from_many_threads_are_all_counted() -> None:
    tally = CallTally()

    def calls() -> None:
        for _ in range(1000):
            tally.request("parse", "ok", 0.01)

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample = tally.take("w1", 1, 1.0)
    assert sample is not None and sample.calls == 8000 and sample.latency[1] == 8000


def test_the_quantile_interpolates_inside_its_bucket_as_prometheus_does() -> None:
    assert quantile(0.95, histogram()) == 0.0
    # 100 calls in (2.5, 5]: the 95th lies 95% of the way through the bucket.
    assert quantile(0.95, histogram(b9=100)) == pytest.approx(2.5 + 2.5 * 0.95)
    # 94 fast calls, 6 between 5 and 10 s: more than 5% are slower than 5 s, so p95 is past 5 s.
    assert 5.0 < quantile(0.95, histogram(b4=94, b10=6)) < 10.0
    # exactly 5% slower than 5 s: p95 is 5 s itself, not past it.
    assert quantile(0.95, histogram(b4=95, b10=5)) == pytest.approx(0.1)
    # in the +Inf bucket: the highest finite bound.
    assert quantile(0.95, histogram(b0=1, b13=99)) == CALL_LATENCY_BOUNDS[-1]
