"""DeepSeek's failure modes, and the seeded plan that decides which request suffers which."""

from __future__ import annotations

import random
from collections import deque
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultName = Literal[
    "server_error",
    "unavailable",
    "rate_limit",
    "rate_limit_retry_after",
    "unauthorized",
    "payment_required",
    "trickle",
    "blank_content",
    "fenced_json",
    "malformed_json",
    "hostile",
    "slow",
    "drop",
    # Streamed answers only (`stream: true`): the first piece, then keep-alives only / a dropped connection.
    "stall",
    "cut",
]
FAULTS: tuple[FaultName, ...] = get_args(FaultName)

Rate = Annotated[float, Field(ge=0, le=1)]


class FaultPlan(BaseModel):
    """Latency, per-fault rates and a queue of faults for the next requests; a PUT replaces it whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency: float = Field(0.0, ge=0, le=600, description="seconds every completion waits before answering")
    faults: dict[FaultName, Rate] = Field(default_factory=dict, description="probability of each fault per request")
    next: tuple[FaultName, ...] = Field((), max_length=10_000, description="faults for the next requests, in order")
    seed: int = Field(0, description="seeds the rate draws, so a run is reproducible")

    @model_validator(mode="after")
    def _rates_fit_in_one(self) -> FaultPlan:
        if sum(self.faults.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        return self


def parse_fault_option(option: str) -> tuple[FaultName, float]:
    """`name=rate` from the command line."""
    name, _, rate = option.partition("=")
    fault = fault_named(name)
    try:
        return fault, float(rate)
    except ValueError:
        raise ValueError(f"--fault {option!r}: expected NAME=RATE, e.g. server_error=0.2") from None


def fault_named(name: str) -> FaultName:
    """The fault called `name`, or ValueError naming the known ones."""
    for fault in FAULTS:
        if fault == name:
            return fault
    raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")


class FaultPicker:
    """Picks the fault for each request: a forced one, else the next queued one, else a seeded draw."""

    def __init__(self, plan: FaultPlan) -> None:
        self.replace(plan)

    def replace(self, plan: FaultPlan) -> None:
        """Install `plan`; the draws restart from its seed."""
        self._plan = plan
        self._queue: deque[FaultName] = deque(plan.next)
        self._rng = random.Random(plan.seed)

    @property
    def plan(self) -> FaultPlan:
        """The plan in force, with only the queued faults still to come."""
        return self._plan.model_copy(update={"next": tuple(self._queue)})

    @property
    def latency(self) -> float:
        return self._plan.latency

    def pick(self, forced: FaultName | None = None) -> FaultName | None:
        if forced is not None:
            return forced
        if self._queue:
            return self._queue.popleft()
        if not self._plan.faults:
            return None
        draw = self._rng.random()
        # Walk the faults in their declared order, not the dict's, so a seed means the same thing every time.
        for name in FAULTS:
            draw -= self._plan.faults.get(name, 0.0)
            if draw < 0:
                return name
        return None
