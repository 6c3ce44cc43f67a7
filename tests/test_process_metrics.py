"""Per-worker samples (CPU, memory, fds, loop lag), players acting and task counts, with injected clocks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from xianxia.metrics import Metrics
from xianxia.process_metrics import ProcessSampler, RecentPlayers, cpu_seconds, open_fds, resident_bytes
from xianxia.store.base import Store
from xianxia.store.factory import create_store
from xianxia.tasks.runner import TaskRunner


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, name
    return found


async def test_loop_lag_is_how_late_the_timer_fired() -> None:
    clock = FakeClock()
    metrics = Metrics()

    async def late_sleep(seconds: float) -> None:
        clock.now += seconds + 0.25  # something held the loop for a quarter second past the timer

    sampler = ProcessSampler(metrics, interval=1.0, clock=clock, sleep=late_sleep)
    assert await sampler.tick() == pytest.approx(0.25)
    assert value(metrics, "xianxia_worker_event_loop_lag_seconds") == pytest.approx(0.25)

    async def on_time(seconds: float) -> None:
        clock.now += seconds

    sampler = ProcessSampler(metrics, interval=1.0, clock=clock, sleep=on_time)
    assert await sampler.tick() == 0.0


def test_process_sample_reads_this_process() -> None:
    metrics = Metrics()
    ProcessSampler(metrics).sample()
    assert value(metrics, "xianxia_worker_resident_memory_bytes") == resident_bytes() > 10_000_000
    r, w = os.pipe()
    try:
        assert open_fds() >= 2 and value(metrics, "xianxia_worker_open_fds") >= 2
    finally:
        os.close(r)
        os.close(w)
    assert 0 < value(metrics, "xianxia_worker_cpu_seconds") <= cpu_seconds()


def test_a_failing_probe_does_not_stop_the_others() -> None:
    metrics = Metrics()
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("probe bug")

    ProcessSampler(metrics, probes=(broken, lambda: ran.append("second"))).sample()
    assert ran == ["second"]


def test_recent_players_forget_those_idle_past_the_window() -> None:
    clock = FakeClock()
    recent = RecentPlayers(window=300, clock=clock)
    recent.saw("a")
    recent.saw("b")
    recent.saw("a")
    assert recent.count() == 2
    clock.now += 200
    recent.saw("c")
    clock.now += 150  # a and b last acted 350 s ago
    assert recent.count() == 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'tasks.db'}")
    await opened.open()
    yield opened
    await opened.close()


async def test_task_counts_running_then_done_or_failed(store: Store) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def held(payload: dict[str, Any]) -> Any:
        entered.set()
        await release.wait()
        if payload.get("fail"):
            raise RuntimeError("no")
        return "ok"

    metrics = Metrics()
    clock = FakeClock()
    runner = TaskRunner(store, {"held": held}, observer=metrics, clock=clock)
    await runner.start()
    try:
        await runner.submit("held", {})
        await entered.wait()
        clock.now += 42
        await runner.submit("held", {"fail": True})
        queued, running, oldest = runner.snapshot()
        assert queued + running == 2 and running >= 1
        assert oldest == 42
        metrics.task_state(*runner.snapshot())
        assert value(metrics, "xianxia_tasks_oldest_age_seconds") == 42
        release.set()
        await runner.wait_idle()
    finally:
        await runner.stop()
    assert runner.snapshot() == (0, 0, 0.0)
    assert value(metrics, "xianxia_tasks_finished_total", status="done") == 1
    assert value(metrics, "xianxia_tasks_finished_total", status="failed") == 1


def test_request_counts_keep_their_labels_and_an_unknown_method_counts_as_other() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.request_done("POST", "/api/players/<player_id>/act", 200, 0.004)
    metrics.request_done("BREW", "unmatched", 405, 0.001)  # any token is a method to HTTP
    metrics.action("cultivate", True, "rules")
    text = metrics.render().decode()
    assert 'xianxia_http_requests_total{method="POST",route="/api/players/<player_id>/act",status="200"} 3.0' in text
    assert (
        'xianxia_http_request_seconds_bucket{le="0.005",method="POST",route="/api/players/<player_id>/act"} 3.0' in text
    )
    assert 'xianxia_http_requests_total{method="other",route="unmatched",status="405"} 1.0' in text
    assert "BREW" not in text
    assert 'xianxia_actions_total{allowed="true",intent="cultivate",parser="rules"} 1.0' in text
