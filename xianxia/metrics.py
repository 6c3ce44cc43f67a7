"""Prometheus metrics, one set per app, correct across hypercorn workers (multiprocess mode).

Multiprocess mode is on when `PROMETHEUS_MULTIPROC_DIR` is set in the environment
before prometheus_client is imported (`python -m xianxia serve` does that); each
worker then writes its samples to files there and any worker's `/metrics` sums
them all. Without it (tests, a single process) the app's own registry is served.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CIRCUIT_STATES = ("closed", "half_open", "open")

#: Why the LLM was switched off by itself: an upstream 401/402, or the error-rate / p95 watch.
ROLLBACK_REASONS = ("upstream_401", "upstream_402", "error_rate", "latency_p95")
STORE_ERROR_SOURCES = ("request", "readiness")
TASK_STATES = ("queued", "running")
TASK_OUTCOMES = ("done", "failed")

#: Methods counted by name; any other (a client may send any token) counts as "other", so no client can grow
#: the label set without bound.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def multiprocess_dir() -> str | None:
    """The shared metrics directory when running under several workers."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """Every metric the service exports; also the LLM client's observer."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        r = self.registry
        self.http_requests = Counter(
            "xianxia_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "xianxia_http_request_seconds",
            "HTTP latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.actions = Counter(
            "xianxia_actions_total", "Player actions by intent and verdict", ["intent", "allowed", "parser"], registry=r
        )
        self.llm_requests = Counter(
            "xianxia_llm_requests_total",
            "LLM calls (after retries) by kind, outcome and path (async client or sync thread pool)",
            ["kind", "outcome", "path"],
            registry=r,
        )
        self.llm_errors = Counter("xianxia_llm_errors_total", "LLM errors by type", ["kind", "type"], registry=r)
        self.llm_retries = Counter("xianxia_llm_retries_total", "LLM retries by reason", ["kind", "reason"], registry=r)
        self.llm_latency = Histogram(
            "xianxia_llm_request_seconds",
            "LLM call duration by kind and path",
            ["kind", "path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_inflight = Gauge(
            "xianxia_llm_inflight", "LLM calls in flight", registry=r, multiprocess_mode="livesum"
        )
        self.llm_circuit = Gauge(
            "xianxia_llm_circuit_open",
            "Workers whose LLM circuit is in each state",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.parser_decisions = Counter(
            "xianxia_parser_decisions_total", "Which parser decided an utterance, and why", ["decision"], registry=r
        )
        self.llm_mode = Gauge(
            "xianxia_llm_mode",
            "Workers in each LLM mode",
            ["mode"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.llm_share = Gauge(
            "xianxia_llm_share",
            "Share of players whose LLM work takes the async path (0 in mode sync or off)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.llm_fatal = Counter(
            "xianxia_llm_fatal_total", "Upstream answers that switched the LLM off (401/402)", ["status"], registry=r
        )
        self.llm_rollbacks = Counter(
            "xianxia_llm_rollbacks_total", "Automatic switches of the LLM mode to off, by cause", ["reason"], registry=r
        )
        self.llm_rolled_back = Gauge(
            "xianxia_llm_rolled_back",
            "Workers whose LLM mode is off by an automatic rollback (stays until an operator raises it)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.store_errors = Counter(
            "xianxia_store_errors_total",
            "Store operations that failed, by where they were seen",
            ["source"],
            registry=r,
        )
        self.players_active = Gauge(
            "xianxia_players_active",
            "Players who acted in the last 5 minutes (summed over workers: a player served by two counts twice)",
            registry=r,
            multiprocess_mode="livesum",
        )
        # Per worker (a `pid` label in multiprocess mode): prometheus_client's own process collector is
        # not served in multiprocess mode, so the sampler in xianxia/process_metrics.py fills these.
        self.worker_cpu = Gauge(
            "xianxia_worker_cpu_seconds",
            "CPU seconds (user + system) this worker has used; take rate() of it",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.worker_rss = Gauge(
            "xianxia_worker_resident_memory_bytes",
            "Resident memory of this worker",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.worker_fds = Gauge(
            "xianxia_worker_open_fds", "Open file descriptors of this worker", registry=r, multiprocess_mode="liveall"
        )
        self.worker_loop_lag = Gauge(
            "xianxia_worker_event_loop_lag_seconds",
            "How late the event loop woke a timer at the last sample (time other work held the loop)",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.tasks = Gauge(
            "xianxia_tasks",
            "Batch tasks held by workers, by state",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.tasks_finished = Counter(
            "xianxia_tasks_finished_total", "Batch tasks finished, by final status", ["status"], registry=r
        )
        self.tasks_oldest_age = Gauge(
            "xianxia_tasks_oldest_age_seconds",
            "Age of the oldest unfinished task a worker holds (0 when none)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.circuit("closed")
        # Series that exist from the start, so dashboards and alerts see zeros rather than no data.
        for reason in ROLLBACK_REASONS:
            self.llm_rollbacks.labels(reason)
        for status in ("401", "402"):
            self.llm_fatal.labels(status)
        for source in STORE_ERROR_SOURCES:
            self.store_errors.labels(source)
        for state in TASK_STATES:
            self.tasks.labels(state).set(0)
        for status in TASK_OUTCOMES:
            self.tasks_finished.labels(status)
        self.llm_rolled_back.set(0)
        self.players_active.set(0)
        self.tasks_oldest_age.set(0)

    # LLMObserver
    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None:
        self.child(self.llm_requests, kind, outcome, path).inc()
        self.child(self.llm_latency, kind, path).observe(seconds)

    def retry(self, kind: str, reason: str) -> None:
        self.child(self.llm_retries, kind, reason).inc()

    def error(self, kind: str, error_type: str) -> None:
        self.child(self.llm_errors, kind, error_type).inc()

    def circuit(self, state: str) -> None:
        for known in CIRCUIT_STATES:
            self.llm_circuit.labels(known).set(1 if known == state else 0)

    def inflight(self, delta: int) -> None:
        self.llm_inflight.inc(delta)

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: prometheus_client checks and locks on every call, and the hot
        paths (every request, every action) ask for the same few children over and over."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "other"
        self.child(self.http_requests, method, route, str(status)).inc()
        self.child(self.http_latency, method, route).observe(seconds)

    def action(self, intent: str, allowed: bool, parser: str) -> None:
        self.child(self.actions, intent, "true" if allowed else "false", parser).inc()

    def decision(self, decision: str) -> None:
        self.child(self.parser_decisions, decision).inc()

    def mode(self, mode: str) -> None:
        for known in ("async", "sync", "off"):
            self.llm_mode.labels(known).set(1 if known == mode else 0)

    # KillSwitchObserver
    def llm_switched_off(self, status: str) -> None:
        self.llm_fatal.labels(status).inc()
        self.llm_rollbacks.labels(f"upstream_{status}").inc()

    # RollbackObserver
    def rolled_back(self, cause: str) -> None:
        self.llm_rollbacks.labels(cause).inc()

    # TaskObserver
    def task_state(self, queued: int, running: int, oldest_age: float) -> None:
        self.tasks.labels("queued").set(queued)
        self.tasks.labels("running").set(running)
        self.tasks_oldest_age.set(oldest_age)

    def task_finished(self, status: str) -> None:
        self.tasks_finished.labels(status).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition, summed over every worker in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        return render_multiprocess(directory)


def render_multiprocess(directory: str) -> bytes:
    """Every worker's samples in `directory`, summed as each metric's multiprocess mode says."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def mark_worker_dead(pid: int) -> None:
    """Drop a finished worker's live gauges from the shared directory."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
