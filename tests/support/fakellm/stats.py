"""Counters of what the fake has served, for tests and benchmarks to read back."""

from __future__ import annotations

import hashlib
from collections import Counter

from pydantic import BaseModel


class StatsSnapshot(BaseModel):
    """`GET /_stats`: counts since start or the last reset (control paths under `/_` are not counted)."""

    requests_total: int
    by_path: dict[str, int]
    by_outcome: dict[str, int]
    in_flight: int
    max_in_flight: int
    distinct_bodies: int


class Stats:
    """Request counts by path and outcome, in-flight gauges, and how many distinct bodies arrived."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        # In-flight requests keep running across a reset; only the counters start over.
        self.requests_total = 0
        self.by_path: Counter[str] = Counter()
        self.by_outcome: Counter[str] = Counter()
        self.max_in_flight = self.in_flight
        self._bodies: set[bytes] = set()
        self.by_prompt: Counter[str] = Counter()  # the last user message of each chat (`GET /_stats/prompts`)

    def started(self, path: str) -> None:
        self.requests_total += 1
        self.by_path[path] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self) -> None:
        self.in_flight -= 1

    def outcome(self, name: str) -> None:
        self.by_outcome[name] += 1

    def prompt(self, text: str) -> None:
        self.by_prompt[text] += 1

    def body(self, raw: bytes) -> None:
        self._bodies.add(hashlib.blake2b(raw, digest_size=16).digest())

    def snapshot(self) -> StatsSnapshot:
        return StatsSnapshot(
            requests_total=self.requests_total,
            by_path=dict(self.by_path),
            by_outcome=dict(self.by_outcome),
            in_flight=self.in_flight,
            max_in_flight=self.max_in_flight,
            distinct_bodies=len(self._bodies),
        )
