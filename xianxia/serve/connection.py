"""One client connection: hypercorn's asyncio TCP server with the idle, header and drain limits it lacks.

hypercorn applies `keep_alive_timeout` before the first request too, has no header-read deadline (its
`read_timeout` is per read, so a client trickling a byte a second is never cut), and on shutdown closes
every connection that is not mid-request at once, even one whose request is already on the wire.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import structlog
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData, Updated

from xianxia.serve.options import ConnectionLimits

log = structlog.get_logger(__name__)

MAX_RECV = 2**16


class GuardedTCPServer(TCPServer):
    """hypercorn's TCPServer, timing each idle phase and each request's headers on its own clock."""

    def __init__(self, *args: Any, limits: ConnectionLimits) -> None:
        super().__init__(*args)
        self.limits = limits
        self.requests = 0  # requests whose headers arrived on this connection
        self.idle = True  # between requests (or before the first)
        self.receiving = False  # bytes of the next request arrived, its headers are not complete yet

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated):
            if not event.idle:
                self.requests += 1
            self.idle = event.idle
            self.receiving = False
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
                await self.idle_task.restart(self._task_group, self._header_timeout)
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())
        # The client has gone: hypercorn would keep the socket until the idle timer fired (up to keep-alive).
        await self.idle_task.stop()

    async def _read(self) -> bytes:
        if self.config.read_timeout is None:  # ours (hypercorn_config): nothing to arm on every read
            return await self.reader.read(MAX_RECV)
        async with asyncio.timeout(self.config.read_timeout):
            return await self.reader.read(MAX_RECV)

    async def _idle_timeout(self) -> None:
        """Close an idle connection after its limit, or soon after draining starts."""
        limit = self.limits.first_request if self.requests == 0 else self.limits.keep_alive
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        if await self._drain_begins_within(limit):
            # Draining: a request may already be on the wire (or in our buffer); let it arrive and be served.
            await asyncio.sleep(max(0.0, min(self.limits.drain_grace, deadline - loop.time())))
            if self._bytes_waiting():
                # It arrived but a busy loop has not read it yet (the grace is wall time): reading it restarts
                # this timer as the header clock, so wait for that rather than drop a request we hold.
                log.info("drain_request_waiting", requests=self.requests)
                await asyncio.sleep(max(0.0, deadline - loop.time()))
            log.debug("idle_connection_closed", requests=self.requests, reason="draining")
        # Close the transport in the very step that decided to: had the close waited for a later turn of the
        # loop (it runs shielded, as a task of its own), a request read in between would be served on a
        # connection closing under it: applied, and answered with nothing.
        self.writer.close()
        await asyncio.shield(self._initiate_server_close())

    async def _drain_begins_within(self, limit: float) -> bool:
        # Never `asyncio.wait_for` here: on Python 3.11 it swallows a cancellation that arrives just as drain
        # begins, and the read loop, which cancels this timer on a request's first byte, would wait it out.
        # `asyncio.wait` lets the cancellation through; it measured cheaper here than `asyncio.timeout`.
        terminated = asyncio.ensure_future(self.context.terminated.wait())
        try:
            done, _ = await asyncio.wait((terminated,), timeout=limit)
        finally:
            terminated.cancel()
        return bool(done)

    def _bytes_waiting(self) -> bool:
        return bytes_waiting(self.reader, self.writer.get_extra_info("socket"))

    async def _header_timeout(self) -> None:
        """Close a connection whose request headers take longer than the header limit (a trickling client)."""
        await asyncio.sleep(self.limits.header)
        log.info("connection_cut", reason="header_timeout", seconds=self.limits.header)
        await asyncio.shield(self._initiate_server_close())


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
