"""Batch tasks on Celery, Redis as broker and result backend (`XIANXIA_TASK_BROKER=redis://…`), for several machines.

The task row stays in the shared store, so any instance answers `GET /api/llm/tasks/{id}`; Celery only carries the
work. Messages are acknowledged late and rejected back to the queue when a worker process dies, one at a time per
process, so a task whose worker is killed runs again elsewhere; `ResumableBatch` makes the second run ask the
upstream only for prompts with no saved answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import structlog
from celery import Celery, Task, signals

from xianxia.config import Settings
from xianxia.store.base import StoreError
from xianxia.tasks.batch import ResumableBatch, TaskHeldElsewhere

log = structlog.get_logger(__name__)

#: The Celery name of the one task kind; the app sends it by name and never imports the worker side.
BATCH_TASK = "xianxia.llm_batch"
#: Task kinds the API submits, to their Celery names.
TASK_NAMES = {"llm_batch": BATCH_TASK}

T = TypeVar("T")


class WorkerContext(Protocol):
    """What a worker process opens once and uses for every task (built from the same settings as the app)."""

    @property
    def batch(self) -> ResumableBatch: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings the product relies on; one place, shared by the app (sending) and the worker."""
    if settings.task_broker is None:
        raise ValueError("XIANXIA_TASK_BROKER is not set: batch tasks run in-process")
    prefix = f"{settings.redis_prefix}:tasks:"  # every broker and result key, so deployments can share a Redis
    visibility = settings.task_visibility_timeout
    return {
        "broker_url": settings.task_broker,
        "result_backend": settings.task_broker,
        "task_default_queue": settings.task_queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Acknowledge once the task has saved its result, and put it back when its worker process dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # a worker holds no task it is not running (nothing stranded with it)
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5.0,
        "broker_transport_options": {
            "global_keyprefix": prefix,
            # An unacknowledged message whose worker vanished (machine lost) is visible again after this long.
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(60, int(visibility / 4))),
            "unacked_restore_throttle": 1,
            # The lock a restoring worker holds; one killed while holding it would block every restore this long
            # (kombu's default: 300 s), so it lasts a fraction of the visibility timeout.
            "unacked_mutex_expire": max(1, min(300, int(visibility / 4))),
            "socket_timeout": 10.0,
            "socket_connect_timeout": 5.0,
        },
        "result_backend_transport_options": {"global_keyprefix": prefix},
        "result_expires": 24 * 3600,
        # A broker that is down answers the API within about a second (503), not after minutes of retries.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.25,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
    }


def create_celery(settings: Settings, context: Callable[[], WorkerContext] | None = None) -> Celery:
    """A Celery app for `settings`; with `context` (the worker side) it also registers the batch task."""
    app = Celery("xianxia", set_as_current=False)
    app.conf.update(celery_config(settings))
    if context is not None:
        runtime = LoopRuntime(context)
        _register_batch_task(app, runtime, retry_after=settings.task_stale_seconds)
        # Prefork: each child opens its own loop and services after the fork; solo: the first task opens them.
        uid = f"xianxia-{id(runtime)}"
        signals.worker_process_init.connect(runtime.on_process_init, weak=False, dispatch_uid=f"{uid}-init")
        signals.worker_process_shutdown.connect(runtime.on_shutdown, weak=False, dispatch_uid=f"{uid}-child-stop")
        signals.worker_shutdown.connect(runtime.on_shutdown, weak=False, dispatch_uid=f"{uid}-stop")
    return app


def _register_batch_task(app: Celery, runtime: LoopRuntime, *, retry_after: float) -> None:
    @app.task(
        name=BATCH_TASK,
        shared=False,  # this app's task, over this app's runtime (not added to every Celery app made later)
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=100,
    )
    def llm_batch(task: Task[Any, Any], task_id: str) -> dict[str, Any]:
        """Answer a stored batch task's prompts that have no saved answer, then mark it done."""
        try:
            outcome = runtime.run(runtime.context().batch.run(task_id))
        except TaskHeldElsewhere as exc:
            raise task.retry(exc=exc, countdown=retry_after) from exc
        except StoreError as exc:  # the store went away mid-task: try again later; the saved answers stay
            log.warning("task_retry", task_id=task_id, error=f"{type(exc).__name__}: {exc}")
            raise task.retry(exc=exc, countdown=min(60.0, 2.0 ** min(task.request.retries, 6))) from exc
        return {"task_id": task_id, "status": outcome.status, "called": outcome.called}


class LoopRuntime:
    """One event loop per worker process, run by a thread of its own, with the worker's services open on it.

    Celery calls tasks synchronously; each call hands its coroutine to this loop and waits. Background work of the
    services (the mode refresh, a task's heartbeat, pooled upstream connections) keeps running between tasks.
    """

    def __init__(self, build: Callable[[], WorkerContext]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._context: WorkerContext | None = None

    def context(self) -> WorkerContext:
        """The open services of this process, opened on first use."""
        self.start()
        assert self._context is not None
        return self._context

    def start(self) -> None:
        """Start the loop and open the services (idempotent; a forked child starts its own)."""
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="xianxia-task-loop", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            context = self._build()
            try:
                self._submit(context.start()).result()
            except BaseException:
                self._stop_loop()
                raise
            self._context = context
            log.info("task_worker_ready")

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on this process's loop and return its result."""
        self.start()
        return self._submit(coroutine).result()

    def close(self) -> None:
        """Close the services, then the loop (idempotent)."""
        with self._lock:
            if self._loop is None:
                return
            context, self._context = self._context, None
            try:
                if context is not None:
                    self._submit(context.aclose()).result()
                self._submit(self._loop.shutdown_asyncgens()).result()
            finally:
                self._stop_loop()
            log.info("task_worker_closed")

    def on_process_init(self, **_: Any) -> None:
        self.start()

    def on_shutdown(self, **_: Any) -> None:
        self.close()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
