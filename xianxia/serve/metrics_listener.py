"""The supervisor's own `/metrics` listener (XIANXIA_METRICS_BIND): every worker's samples, no credential.

It is meant for a private address (loopback, a scrape network): it answers `GET /metrics` and nothing else,
one request per connection, and cuts a client that has not sent its headers within the header timeout.
The samples are read from the workers' shared multiprocess directory, so the supervisor, which serves no
game request, holds the one view that outlives any single worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

from xianxia.metrics import render_multiprocess
from xianxia.serve.sockets import address, bind

log = structlog.get_logger(__name__)

MAX_HEAD_BYTES = 16 * 1024
TEXT = "text/plain; charset=utf-8"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout"}


class MetricsListener:
    """Serves the multiprocess-aggregated exposition of `directory` on host:port."""

    def __init__(self, host: str, port: int, directory: str, *, header_timeout: float, backlog: int = 128) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self.header_timeout = header_timeout
        self.backlog = backlog
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        """host:port actually listened on (the real port when 0 was asked for)."""
        assert self._server is not None, "not started"
        return address(self._server.sockets[0])

    async def start(self) -> None:
        """Bind (an error here stops the start-up: a scrape address that is taken is a configuration error)."""
        sock: socket.socket = bind(self.host, self.port, self.backlog)
        sock.set_inheritable(False)  # the workers must not hold it open
        self._server = await asyncio.start_server(self._answer, sock=sock, limit=MAX_HEAD_BYTES)
        log.info("metrics_listening", address=self.address)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(self.header_timeout):
                    head = await reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                await self._send(writer, 408, b"request headers not received in time\n")
                return
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            status, body, content_type = await self._route(head)
            await self._send(writer, status, body, content_type, head_only=head.startswith(b"HEAD "))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _route(self, head: bytes) -> tuple[int, bytes, str]:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400, b"malformed request line\n", TEXT
        method, target, _ = parts
        if target.split("?", 1)[0] != "/metrics":
            return 404, b"only /metrics is served here\n", TEXT
        if method not in ("GET", "HEAD"):
            return 405, b"GET /metrics\n", TEXT
        # Reading the sample files is blocking file I/O: off the loop that supervises the workers.
        return 200, await asyncio.to_thread(render_multiprocess, self.directory), CONTENT_TYPE_LATEST

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        content_type: str = TEXT,
        *,
        head_only: bool = False,
    ) -> None:
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        with contextlib.suppress(ConnectionError):
            writer.write(head if head_only else head + body)
            await writer.drain()
