"""One client connection: hypercorn's asyncio TCP server with the idle, header and drain limits it lacks.

hypercorn applies `keep_alive_timeout` before the first request too, has no header-read deadline (its
`read_timeout` is per read, so a client trickling a byte a second is never cut), and on shutdown closes
every connection that is not mid-request at once, even one whose request is already on the wire.

Each connection has one timer (an event loop timer handle), re-armed as the connection moves between its
phases: idle (the first-request or keep-alive limit), receiving a request's headers (the header limit), and
busy (none). hypercorn runs a task per idle phase instead, which a keep-alive request pays for twice (a task
to start, a cancellation to end), and whose drain wait had a race that lost requests (docs/DEPLOYMENT.md).
A timer callback runs in one step of the loop, so no phase change can slip in between deciding and acting.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.typing import TaskGroup

from xianxia.serve.options import ConnectionLimits

log = structlog.get_logger(__name__)

MAX_RECV = 2**16


class PhaseClock:
    """hypercorn's `idle_task`, on the connection's timer: hypercorn restarts it as a connection opens (with its
    idle timeout, the only action it passes) and stops it as the connection closes."""

    def __init__(self, server: GuardedTCPServer) -> None:
        self._server = server

    async def restart(self, task_group: TaskGroup, action: Callable[..., Any]) -> None:
        self._server.arm_idle()

    async def stop(self) -> None:
        self._server.disarm()


class GuardedTCPServer(TCPServer):
    """hypercorn's TCPServer, timing each idle phase and each request's headers on its own clock."""

    def __init__(self, *args: Any, limits: ConnectionLimits) -> None:
        super().__init__(*args)
        self.limits = limits
        self.requests = 0  # requests whose headers arrived on this connection
        self.idle = True  # between requests (or before the first)
        self.receiving = False  # bytes of the next request arrived, its headers are not complete yet
        self.idle_task = PhaseClock(self)  # type: ignore[assignment]
        self._timer: asyncio.TimerHandle | None = None
        self._idle_deadline = 0.0  # when the current idle phase's own limit ends (loop time)
        self._closing: set[asyncio.Task[None]] = set()

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated):
            if not event.idle:
                self.requests += 1
            self.idle = event.idle
            self.receiving = False
            if event.idle:
                self.arm_idle()
            else:
                self.disarm()  # a request is being served: no limit on how long the app takes
            return
        await super().protocol_send(event)

    async def _read_data(self) -> None:
        # hypercorn's loop, plus the start of the header clock on a request's first byte.
        while not self.reader.at_eof():
            try:
                data = await self._read()
            except (ConnectionError, OSError, TimeoutError):
                break
            if self.writer.is_closing():
                break  # the idle timer closed it: a request read now could be applied but never answered
            if data and self.idle and not self.receiving:
                self.receiving = True
                self._arm(self.limits.header, self._headers_too_slow)
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())
        # The client has gone: hypercorn would keep the socket until the idle timer fired (up to keep-alive).
        self.disarm()

    async def _read(self) -> bytes:
        if self.config.read_timeout is None:  # ours (hypercorn_config): nothing to arm on every read
            return await self.reader.read(MAX_RECV)
        async with asyncio.timeout(self.config.read_timeout):
            return await self.reader.read(MAX_RECV)

    # The timer: one handle, replaced on each phase change.

    def arm_idle(self) -> None:
        """Start an idle phase: the first-request limit on a new connection, keep-alive after a request."""
        limit = self.limits.first_request if self.requests == 0 else self.limits.keep_alive
        self._idle_deadline = self.loop.time() + limit
        if self.context.terminated.is_set():
            self._arm(min(self.limits.drain_grace, limit), self._drain_grace_over)
        else:
            self._arm(limit, self._idle_over)

    def drain_begins(self) -> None:
        """The worker is draining: an idle connection closes after the drain grace (a request may be on its way)."""
        if self._timer is None or not self.idle or self.receiving:
            return
        self._arm(min(self.limits.drain_grace, self._idle_deadline - self.loop.time()), self._drain_grace_over)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self.disarm()
        self._timer = self.loop.call_later(max(0.0, delay), callback)

    def _drain_grace_over(self) -> None:
        self._timer = None
        left = self._idle_deadline - self.loop.time()
        if left > 0 and self._bytes_waiting():
            # A request arrived but a busy loop has not read it yet (the grace is wall time): reading it
            # starts the header clock in place of this one, so wait for that rather than drop a request we hold.
            log.info("drain_request_waiting", requests=self.requests)
            self._arm(left, self._idle_over)
            return
        log.debug("idle_connection_closed", requests=self.requests, reason="draining")
        self._idle_over()

    def _idle_over(self) -> None:
        # Close the transport in the very step that decided to: a request read in a later turn of the loop
        # would be served on a connection closing under it (applied, and answered with nothing).
        self._timer = None
        self.writer.close()
        self._spawn(self._initiate_server_close())

    def _headers_too_slow(self) -> None:
        """A request whose headers take longer than the header limit (a trickling client): cut it."""
        self._timer = None
        log.info("connection_cut", reason="header_timeout", seconds=self.limits.header)
        self.writer.close()  # now, as for an idle limit: headers completed in a later turn must not reach the app
        self._spawn(self._initiate_server_close())

    def _spawn(self, closing: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(closing)
        self._closing.add(task)  # held until done: the loop keeps only a weak reference to a task
        task.add_done_callback(self._closing.discard)

    def _bytes_waiting(self) -> bool:
        return bytes_waiting(self.reader, self.writer.get_extra_info("socket"))


def bytes_waiting(reader: asyncio.StreamReader, transport_socket: Any) -> bool:
    """Whether bytes of a request sit unread in the stream's buffer or the kernel's (peeked, not consumed)."""
    if getattr(reader, "_buffer", b""):
        return True
    if transport_socket is None:
        return False
    try:
        with socket.socket(fileno=os.dup(transport_socket.fileno())) as probe:
            return bool(probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # BlockingIOError: nothing there; others: the connection is gone
        return False
