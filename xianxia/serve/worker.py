"""`python -m xianxia.serve.worker --fd N --ready-fd M`: one worker process, started by the supervisor.

It serves the app on the listening sockets it inherited, tells the supervisor when it is ready, and on
SIGTERM or SIGINT drains: no new connection, every accepted request answered, then after_serving, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import structlog
from hypercorn.utils import wrap_app
from quart import Quart

from xianxia.config import Settings
from xianxia.logs import configure_logging
from xianxia.serve.options import ConnectionLimits, hypercorn_config, loop_factory, loop_name
from xianxia.serve.server import WorkerServer
from xianxia.web.draining import Draining, draining_of

log = structlog.get_logger(__name__)

DEFAULT_APP = "xianxia.web.app:create_app()"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CUT_EXIT = 3  # drained, but some requests outlasted the graceful timeout
#: The cyclic collector's thresholds once the worker serves (Python's defaults are 700, 10, 10). With a thousand
#: requests in flight every young collection traverses them all and promotes them, so the defaults ran a full
#: collection every half second: 40% of the worker's time with 1000 paced players (docs/PERFORMANCE.md).
GC_THRESHOLDS = (50_000, 20, 100)


def load_app(path: str) -> Any:
    """`module:attribute`, or `module:factory()` to call it."""
    module_name, _, attribute = path.partition(":")
    target = getattr(importlib.import_module(module_name), attribute.removesuffix("()") or "app")
    return target() if attribute.endswith("()") else target


def tune_collector() -> None:
    """Freeze what start-up built (modules, the world, the app) out of every later collection; collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def raise_open_file_limit(wanted: int = 65536) -> None:
    """Lift the soft descriptor limit toward the hard one: a worker may hold thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def run_worker(
    app: Any, settings: Settings, sockets: list[socket.socket], ready: Callable[[], None], stopped_early: bool
) -> int:
    """Serve until SIGTERM/SIGINT, then drain; the exit code says whether every request was answered."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    if stopped_early:
        stop.set()
    draining = draining_of(app) if isinstance(app, Quart) else Draining()
    config = hypercorn_config(settings)
    server = WorkerServer(
        wrap_app(app, config.wsgi_max_body_size, "asgi"),
        config,
        ConnectionLimits.from_settings(settings),
        draining,
        sockets,
    )
    await server.start()
    tune_collector()
    log.info("worker_ready", pid=os.getpid(), loop=loop_name(loop_factory(settings.event_loop)))
    ready()
    await stop.wait()
    clean = await server.drain(settings.effective_graceful_timeout)
    await server.stop()
    log.info("worker_stopped", pid=os.getpid(), clean=clean)
    return 0 if clean else CUT_EXIT


def main(argv: list[str] | None = None) -> int:
    # Until the loop takes over: remember a stop asked for during start-up, and leave SIGHUP to the supervisor.
    early: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, _frame: early.append(number))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m xianxia.serve.worker", description=__doc__)
    parser.add_argument("--fd", type=int, action="append", required=True, help="an inherited listening socket")
    parser.add_argument("--ready-fd", type=int, required=True, help="a pipe to write one line to when ready")
    parser.add_argument("--app", default=DEFAULT_APP)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    raise_open_file_limit()
    sockets = [socket.socket(fileno=fd) for fd in args.fd]

    def ready() -> None:
        os.write(args.ready_fd, b"ready\n")
        os.close(args.ready_fd)

    app = load_app(args.app)
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        return runner.run(run_worker(app, settings, sockets, ready, bool(early)))


if __name__ == "__main__":
    sys.exit(main())
