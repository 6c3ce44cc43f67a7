"""Per-worker resource samples (CPU, memory, file descriptors, event-loop lag) and other periodic gauges.

prometheus_client's own process collector is not served in multiprocess mode, so each worker samples
itself here and writes `liveall` gauges, which carry its pid.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import structlog

from xianxia.background import stop_task
from xianxia.metrics import Metrics

log = structlog.get_logger(__name__)

PROC_SELF = Path("/proc/self")


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process (all its threads)."""
    times = os.times()
    return times.user + times.system


def resident_bytes() -> int:
    """Resident set size, from /proc where there is one (0 elsewhere)."""
    try:
        pages = int((PROC_SELF / "statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    """Open file descriptors of this process (0 where /proc is missing)."""
    try:
        return len(os.listdir(PROC_SELF / "fd"))
    except OSError:
        return 0


class RecentPlayers:
    """Which players acted within the last `window` seconds on this worker."""

    def __init__(self, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._seen: dict[str, float] = {}

    def saw(self, player_id: str) -> None:
        self._seen[player_id] = self._clock()

    def count(self) -> int:
        horizon = self._clock() - self._window
        for player_id in [p for p, at in self._seen.items() if at < horizon]:
            del self._seen[player_id]
        return len(self._seen)


class ProcessSampler:
    """Every `interval` seconds: measure how late the loop woke us, sample the process, run the probes."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        interval: float = 1.0,
        probes: Sequence[Callable[[], None]] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._metrics = metrics
        self._interval = interval
        self._probes = tuple(probes)
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.sample()
        self._task = asyncio.create_task(self._run(), name="process-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def sample(self) -> None:
        """Take one sample of the process and run every probe."""
        self._metrics.worker_cpu.set(cpu_seconds())
        self._metrics.worker_rss.set(resident_bytes())
        self._metrics.worker_fds.set(open_fds())
        for probe in self._probes:
            try:
                probe()
            except Exception:
                log.exception("metrics_probe_failed")

    async def tick(self) -> float:
        """Sleep one interval, record the loop's lag and sample; answers the lag."""
        due = self._clock() + self._interval
        await self._sleep(self._interval)
        lag = max(0.0, self._clock() - due)
        self._metrics.worker_loop_lag.set(lag)
        self.sample()
        return lag

    async def _run(self) -> None:
        while True:
            await self.tick()
