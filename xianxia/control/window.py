"""What the rollback watch judges: LLM calls as players see them (after retries), tallied here, summed in the store.

Each worker tallies its calls (count, errors, a latency histogram) and writes one row per flush; the watch sums
the rows of every worker and instance over the window. A histogram sums across workers, a quantile does not.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

from xianxia.llm.observer import NullObserver
from xianxia.store.base import CALL_LATENCY_BOUNDS, CallSample, CallTotals

#: Outcomes that say nothing of the LLM path: the caller went away, the LLM is off here, this worker is full.
NOT_JUDGED = frozenset({"cancelled", "unavailable", "busy"})


class CallTally(NullObserver):
    """The LLM client's observer for the watch: counts calls since the last flush; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = 0
        self._latency = [0] * (len(CALL_LATENCY_BOUNDS) + 1)

    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None:
        if outcome in NOT_JUDGED:
            return
        bucket = bisect.bisect_left(CALL_LATENCY_BOUNDS, seconds)  # `le` buckets, the last one +Inf
        with self._lock:
            self._calls += 1
            self._errors += outcome != "ok"
            self._latency[bucket] += 1

    def take(self, worker: str, seq: int, at: float) -> CallSample | None:
        """What was counted since the last take (None: nothing), and start again from zero."""
        with self._lock:
            if self._calls == 0:
                return None
            sample = CallSample(worker, seq, at, self._calls, self._errors, tuple(self._latency))
            self._calls = self._errors = 0
            self._latency = [0] * len(self._latency)
        return sample

    def put_back(self, sample: CallSample) -> None:
        """A sample the store did not take: count it again in the next one."""
        with self._lock:
            self._calls += sample.calls
            self._errors += sample.errors
            self._latency = [mine + theirs for mine, theirs in zip(self._latency, sample.latency, strict=True)]


def quantile(q: float, latency: tuple[int, ...], bounds: tuple[float, ...] = CALL_LATENCY_BOUNDS) -> float:
    """The q-quantile of a histogram (counts per `le` bucket, +Inf last), interpolated as Prometheus does."""
    total = sum(latency)
    if total == 0:
        return 0.0
    rank = q * total
    below = 0
    for index, count in enumerate(latency):
        if count and below + count >= rank:
            if index == len(bounds):  # in +Inf: the highest finite bound, as histogram_quantile answers
                return bounds[-1]
            lower = bounds[index - 1] if index else 0.0
            return lower + (bounds[index] - lower) * (rank - below) / count
        below += count
    return bounds[-1]


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """The sums over every worker and instance for one judgement, and when they were taken."""

    at: float
    since: float
    window_seconds: float
    workers: int
    calls: int
    errors: int
    p95_seconds: float

    @classmethod
    def of(cls, totals: CallTotals, *, at: float, since: float, window_seconds: float) -> WindowFigures:
        return cls(
            at=at,
            since=since,
            window_seconds=window_seconds,
            workers=totals.workers,
            calls=totals.calls,
            errors=totals.errors,
            p95_seconds=round(quantile(0.95, totals.latency), 3),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "window_seconds": self.window_seconds,
            "since": round(self.since, 3),
            "at": round(self.at, 3),
            "workers": self.workers,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p95_seconds": self.p95_seconds,
        }
