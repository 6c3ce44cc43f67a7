"""The master process: bind the sockets once, keep N workers, forward signals, wait for drains.

SIGTERM/SIGINT: every worker drains (stops accepting, answers what it accepted), then the master exits.
SIGHUP: rolling reload, one worker at a time: start a new one, wait until it is ready, drain the old one.
A worker that exits while nobody asked it to (a crash, SIGKILL, a SIGTERM sent to it alone) is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

import structlog

from xianxia.config import Settings
from xianxia.metrics import mark_worker_dead, multiprocess_dir
from xianxia.serve.metrics_listener import MetricsListener
from xianxia.serve.sockets import address, bind

log = structlog.get_logger(__name__)

RESTART_BACKOFF_MAX = 5.0
KILL_MARGIN = 5.0  # beyond the graceful timeout, for after_serving to close the store and the client


class WorkerBootError(RuntimeError):
    """A worker exited or stayed silent before it was ready."""


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    retiring: bool = False  # asked to drain: its exit is expected
    ready: bool = False  # said it was ready (one killed while booting served nothing)

    @property
    def pid(self) -> int:
        return self.process.pid


class Supervisor:
    """Keeps `workers` worker processes serving `app` on `sockets`."""

    def __init__(self, settings: Settings, sockets: list[socket.socket], workers: int, app: str) -> None:
        self.settings = settings
        self.sockets = sockets
        self.size = workers
        self.app = app
        self.workers: dict[int, Worker] = {}
        self.exited: asyncio.Queue[Worker] = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.reloads = 0
        self._reload_wanted = asyncio.Event()
        self._failures = 0
        self._exit_code = 0
        self._replacing: set[asyncio.Future[None]] = set()

    async def run(self) -> int:
        """Start the workers, supervise them until SIGTERM/SIGINT, then wait for every drain."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_wanted.set)
        binds = ", ".join(f"http://{address(sock)}" for sock in self.sockets)
        log.info("supervisor_started", pid=os.getpid(), workers=self.size, listening=binds)
        metrics = self._metrics_listener()
        if metrics is not None:
            try:
                await metrics.start()
            except OSError as exc:
                log.error("bind_failed", address=self.settings.metrics_bind, error=str(exc))
                return 1
        booted = await asyncio.gather(*(self._start_worker() for _ in range(self.size)), return_exceptions=True)
        failed = [result for result in booted if isinstance(result, BaseException)]
        for error in failed:
            if not isinstance(error, WorkerBootError):
                raise error
        if failed and not self.stopping.is_set():
            log.error("worker_boot_failed", error=str(failed[0]))
            self._stop()
            await self._wait_all()
            if metrics is not None:
                await metrics.close()
            return 1
        if self.stopping.is_set():  # SIGTERM while booting: a drain like any other (nothing was served yet)
            log.info("stopped_while_booting", workers_not_ready=len(failed))
        else:
            # One line operators and scripts can wait for.
            print(f"xianxia serving on {binds} with {self.size} workers", flush=True)
            if metrics is not None:
                print(f"xianxia metrics on http://{metrics.address}/metrics", flush=True)
            await self._supervise()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        await self._wait_all()
        if metrics is not None:
            await metrics.close()  # last: a final scrape still sees every worker's last samples
        log.info("supervisor_stopped", exit_code=self._exit_code)
        return self._exit_code

    def _metrics_listener(self) -> MetricsListener | None:
        """The unauthenticated scrape listener when XIANXIA_METRICS_BIND is set."""
        where = self.settings.metrics_address
        if where is None:
            return None
        directory = multiprocess_dir()
        if directory is None:
            raise RuntimeError("XIANXIA_METRICS_BIND needs PROMETHEUS_MULTIPROC_DIR (python -m xianxia serve sets it)")
        return MetricsListener(*where, directory, header_timeout=self.settings.header_timeout)

    def _stop(self) -> None:
        if self.stopping.is_set():
            return
        log.info("supervisor_stopping", workers=len(self.workers))
        self.stopping.set()
        for sock in self.sockets:
            sock.close()  # new connections are refused once the draining workers have closed their copies
        for worker in list(self.workers.values()):
            self._retire(worker)

    def _retire(self, worker: Worker) -> None:
        worker.retiring = True
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGTERM)

    async def _supervise(self) -> None:
        while not self.stopping.is_set():
            exited = asyncio.ensure_future(self.exited.get())
            reload = asyncio.ensure_future(self._reload_wanted.wait())
            stop = asyncio.ensure_future(self.stopping.wait())
            done, _ = await asyncio.wait({exited, reload, stop}, return_when=asyncio.FIRST_COMPLETED)
            for waiting in (exited, reload, stop):
                if waiting not in done:
                    waiting.cancel()
            if exited in done and not self.stopping.is_set():
                replacing = asyncio.ensure_future(self._replace_if_unexpected(exited.result()))
                self._replacing.add(replacing)
                replacing.add_done_callback(self._replacing.discard)
            if self._reload_wanted.is_set() and not self.stopping.is_set():
                self._reload_wanted.clear()
                await self._rolling_reload()

    async def _replace_if_unexpected(self, worker: Worker) -> None:
        if worker.retiring:
            return
        lived = time.monotonic() - worker.started
        self._failures = self._failures + 1 if lived < 10 else 0
        delay = min(RESTART_BACKOFF_MAX, 0.1 * 2 ** max(0, self._failures - 1)) if self._failures else 0.0
        log.warning("worker_died", pid=worker.pid, code=worker.process.returncode, restart_in=delay)
        await asyncio.sleep(delay)
        if not self.stopping.is_set():
            await self._start_worker_retrying()

    async def _start_worker_retrying(self) -> None:
        while not self.stopping.is_set():
            try:
                await self._start_worker()
                return
            except WorkerBootError as exc:
                self._failures += 1
                delay = min(RESTART_BACKOFF_MAX, 0.1 * 2**self._failures)
                log.error("worker_boot_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)

    async def _rolling_reload(self) -> None:
        """Replace the workers one at a time; each old one drains only once its successor is ready."""
        self.reloads += 1
        old = [worker for worker in self.workers.values() if not worker.retiring]
        log.info("reload_started", workers=len(old))
        for worker in old:
            if self.stopping.is_set():
                return
            await self._start_worker_retrying()
            self._retire(worker)
        log.info("reload_finished", workers=len(old))

    async def _start_worker(self) -> Worker:
        """Spawn one worker on the shared sockets and wait until it says it is ready."""
        read_fd, write_fd = os.pipe()
        fds = [sock.fileno() for sock in self.sockets]
        command = [sys.executable, "-m", "xianxia.serve.worker", "--ready-fd", str(write_fd), "--app", self.app]
        for fd in fds:
            command += ["--fd", str(fd)]
        try:
            process = await asyncio.create_subprocess_exec(*command, pass_fds=(*fds, write_fd))
        finally:
            os.close(write_fd)
        worker = Worker(process)
        self.workers[worker.pid] = worker
        asyncio.get_running_loop().create_task(self._watch(worker))
        if self.stopping.is_set():  # SIGTERM came while it was being spawned: it drains with the others
            self._retire(worker)
        try:
            await self._wait_ready(worker, read_fd)
            worker.ready = True
        except WorkerBootError:
            self._retire(worker)
            raise
        finally:
            os.close(read_fd)
        return worker

    async def _wait_ready(self, worker: Worker, read_fd: int) -> None:
        loop = asyncio.get_running_loop()
        said: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            if not said.done():
                said.set_result(os.read(read_fd, 64))

        loop.add_reader(read_fd, readable)
        try:
            async with asyncio.timeout(self.settings.worker_boot_timeout):
                line = await said
        except TimeoutError:
            raise WorkerBootError(
                f"worker {worker.pid} not ready after {self.settings.worker_boot_timeout} s"
            ) from None
        finally:
            loop.remove_reader(read_fd)
        if not line.startswith(b"ready"):
            code = await worker.process.wait()
            raise WorkerBootError(f"worker {worker.pid} exited with {code} before it was ready")

    async def _watch(self, worker: Worker) -> None:
        code = await worker.process.wait()
        self.workers.pop(worker.pid, None)
        mark_worker_dead(worker.pid)
        if code != 0 and worker.ready and worker.retiring and self.stopping.is_set():
            self._exit_code = self._exit_code or (code if code > 0 else 1)
        log.info("worker_exited", pid=worker.pid, code=code, expected=worker.retiring)
        await self.exited.put(worker)

    async def _wait_all(self) -> None:
        """Wait for every worker to finish draining; kill what outstays the graceful timeout."""
        deadline = self.settings.effective_graceful_timeout + self.settings.drain_grace + KILL_MARGIN
        processes = [worker.process for worker in self.workers.values()]
        if not processes:
            return
        try:
            async with asyncio.timeout(deadline):
                await asyncio.gather(*(p.wait() for p in processes))
        except TimeoutError:
            for process in processes:
                if process.returncode is None:
                    log.error("worker_killed", pid=process.pid, after=deadline)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*(p.wait() for p in processes))
            self._exit_code = self._exit_code or 1
        await asyncio.sleep(0)  # let the watchers record the exits


def serve(host: str, port: int, workers: int, app: str, settings: Settings) -> int:
    """Bind host:port once and supervise `workers` processes serving `app` until SIGTERM/SIGINT."""
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    listening = bind(host, port, settings.backlog)
    try:
        return asyncio.run(Supervisor(settings, [listening], workers, app).run())
    finally:
        listening.close()
