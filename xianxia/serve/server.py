"""One worker's server: hypercorn's lifespan and connection handling on inherited sockets, and a real drain.

Modelled on hypercorn's `asyncio.run.worker_serve` (the body of its `serve()` API), with our own accept loop
so that a worker can cap its connections, take what the kernel already queued before it stops accepting,
and hand every connection to `GuardedTCPServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable
from typing import Any

import structlog
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.typing import AppWrapper, ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, Scope

from xianxia.serve.connection import GuardedTCPServer
from xianxia.serve.options import ConnectionLimits
from xianxia.web.draining import Draining

log = structlog.get_logger(__name__)

# accept() errors that mean "out of descriptors or memory for now", not "the socket is broken".
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RESOURCE_BACKOFF = 0.1


class DrainingApp:
    """ASGI wrapper: responses sent while draining say `Connection: close`, so no client reuses the connection."""

    def __init__(self, app: AppWrapper, draining: Draining) -> None:
        self.app = app
        self.draining = draining

    async def __call__(
        self,
        scope: Scope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        sync_spawn: Callable[..., Any],
        call_soon: Callable[..., Any],
    ) -> None:
        async def send_closing(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and self.draining.active:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing if scope["type"] == "http" else send, sync_spawn, call_soon)


class WorkerServer:
    """Serve `app` on `sockets` until `drain()`: then take no new connection and let accepted ones finish."""

    def __init__(
        self,
        app: AppWrapper,
        config: Config,
        limits: ConnectionLimits,
        draining: Draining,
        sockets: list[socket.socket],
    ) -> None:
        self.app: AppWrapper = DrainingApp(app, draining)
        self.config = config
        self.limits = limits
        self.draining = draining
        self.sockets = sockets
        self.context = WorkerContext(None)
        self.lifespan_state: dict[str, Any] = {}
        self.connections: set[asyncio.Task[None]] = set()
        self.servers: set[GuardedTCPServer] = set()  # the connections' servers, told when draining begins
        self._listening = False
        self._lifespan: Lifespan | None = None
        self._lifespan_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the app's startup (before_serving), then accept on every socket."""
        loop = asyncio.get_running_loop()
        self._lifespan = Lifespan(self.app, self.config, loop, self.lifespan_state)
        self._lifespan_task = loop.create_task(self._lifespan.handle_lifespan())
        await self._lifespan.wait_for_startup()
        if self._lifespan_task.done() and (error := self._lifespan_task.exception()) is not None:
            raise error
        for sock in self.sockets:
            sock.setblocking(False)
        self._listen()

    async def drain(self, grace: float) -> bool:
        """Stop accepting, serve every accepted request for up to `grace` s; False if some had to be cut."""
        self.draining.begin()
        self._unlisten()
        taken = sum(self._accept_queued(sock, capped=False) for sock in self.sockets)
        for sock in self.sockets:
            sock.close()  # our copy only: the supervisor and the other workers keep theirs
        await self.context.terminated.set()
        for server in list(self.servers):
            server.drain_begins()
        log.info("worker_draining", connections=len(self.connections), taken_from_backlog=taken)
        if not self.connections:
            return True
        _, pending = await asyncio.wait(set(self.connections), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("drain_timeout", cut=len(pending), seconds=grace)
        return not pending

    async def stop(self) -> None:
        """Run the app's shutdown (after_serving: the LLM client, task runner and store close)."""
        if self._lifespan is None or self._lifespan_task is None:
            return
        await self._lifespan.wait_for_shutdown()
        self._lifespan_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._lifespan_task

    # Accepting is a readiness callback, as in asyncio's own servers, never a cancellable `sock_accept` await:
    # cancelling one that has just accepted loses the connection (the client would get an empty reply).

    def _listen(self) -> None:
        if self._listening or self.draining.active:
            return
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._accept_queued, sock)
        self._listening = True

    def _unlisten(self) -> None:
        if not self._listening:
            return
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            loop.remove_reader(sock.fileno())
        self._listening = False

    def _accept_queued(self, sock: socket.socket, *, capped: bool = True) -> int:
        """Take the connections the kernel has queued on `sock` (within the cap when `capped`)."""
        taken = 0
        while not (capped and self._full):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.warning("accept_failed", error=exc.strerror)
                if exc.errno in RESOURCE_ERRORS and capped:
                    self._unlisten()  # out of descriptors for now: retry shortly instead of spinning
                    asyncio.get_running_loop().call_later(RESOURCE_BACKOFF, self._listen)
                break
            self._serve(conn)
            taken += 1
        if capped and self._full:
            self._unlisten()  # the rest wait in the kernel's backlog (or go to another worker)
        return taken

    @property
    def _full(self) -> bool:
        return len(self.connections) >= self.limits.max_connections

    def _serve(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._connection(conn))
        self.connections.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.connections.discard(task)
        if not self._full:
            self._listen()

    async def _connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**16)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=conn)
        except OSError:
            conn.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        server = GuardedTCPServer(
            self.app, loop, self.config, self.context, self.lifespan_state, reader, writer, limits=self.limits
        )
        self.servers.add(server)
        try:
            await server.run()
        finally:
            self.servers.discard(server)
