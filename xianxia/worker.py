"""The Celery worker for batch tasks: `celery -A xianxia.worker worker` (`make worker`).

It reads the same settings as the app (XIANXIA_TASK_BROKER, XIANXIA_DATABASE_URL, DEEPSEEK_*, …) and builds the
same services with `Services.build`, so a task sees the live LLM mode, the kill switch and the same upstream client.
Each worker process opens them once, on its own event loop (`LoopRuntime`), and closes them when it stops.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
from dataclasses import dataclass

from celery import Celery

from xianxia.config import Settings
from xianxia.logs import configure_logging
from xianxia.tasks.batch import ResumableBatch
from xianxia.tasks.celery_app import create_celery
from xianxia.web.services import Services


@dataclass
class WorkerServices:
    """The services a worker process holds open, and the batch runner over them."""

    services: Services
    batch: ResumableBatch

    async def start(self) -> None:
        await self.services.start()

    async def aclose(self) -> None:
        await self.services.aclose()


def build_worker(settings: Settings) -> WorkerServices:
    """The services from `settings`, and a batch runner owned by this process."""
    services = Services.build(settings)
    owner = f"celery-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    batch = ResumableBatch(
        services.store,
        services.gateway,
        owner=owner,
        stale_after=settings.task_stale_seconds,
        heartbeat_seconds=settings.task_heartbeat_seconds,
    )
    return WorkerServices(services, batch)


def worker_app(settings: Settings) -> Celery:
    """The worker's Celery app: the batch task, and services opened in each worker process."""
    configure_logging(settings.log_level, settings.log_json)
    return create_celery(settings, functools.partial(build_worker, settings))


@functools.cache
def _app_from_environment() -> Celery:
    return worker_app(Settings())


def __getattr__(name: str) -> Celery:
    """`celery -A xianxia.worker` reads `app`: built from the environment on that first read, not at import."""
    if name == "app":
        return _app_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
