"""A draining worker keeps a connection whose request bytes it holds but has not read yet."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config

from xianxia.serve.connection import GuardedTCPServer, bytes_waiting
from xianxia.serve.options import ConnectionLimits


async def test_bytes_in_the_kernel_or_the_stream_buffer_count_as_a_request_waiting() -> None:
    server, client = socket.socketpair()
    with server, client:
        reader = asyncio.StreamReader()
        assert not bytes_waiting(reader, server)  # an idle connection: nothing sent
        client.sendall(b"POST /api/players/p1/act HTTP/1.1\r\n")
        assert bytes_waiting(reader, server)
        assert server.recv(64).startswith(b"POST")  # the peek consumed nothing
        assert not bytes_waiting(reader, server)
        reader.feed_data(b"GET / HTTP/1.1\r\n")  # read off the socket, not yet parsed
        assert bytes_waiting(reader, None)
        client.close()
        assert not bytes_waiting(asyncio.StreamReader(), server)  # the client left: nothing to serve


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
async def test_the_idle_timer_stops_when_cancelled_as_draining_begins(turns: int) -> None:
    """The read loop cancels the idle timer on a request's first byte; drain may start in the same instant.

    Python 3.11's `asyncio.wait_for` returns the result, and swallows the cancellation, when its awaitable has
    finished but not yet woken it: the timer went on to wait out the first-request limit while the read loop
    waited for it to stop, and the request it held was closed unanswered (found by `make chaos`).
    """
    server_sock, client_sock = socket.socketpair()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, protocol = await loop.connect_accepted_socket(
        lambda: asyncio.StreamReaderProtocol(reader), sock=server_sock
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    limits = ConnectionLimits(first_request=600, header=600, keep_alive=600, drain_grace=600, max_connections=10)
    context = WorkerContext(None)
    server = GuardedTCPServer(None, loop, Config(), context, {}, reader, writer, limits=limits)
    try:
        timer = asyncio.create_task(server._idle_timeout())
        await asyncio.sleep(0)  # it waits for drain or its limit
        await context.terminated.set()
        for _ in range(turns):
            await asyncio.sleep(0)
        timer.cancel()
        for _ in range(5):  # a few turns of the loop, no wall clock: a timer that obeys is gone by then
            await asyncio.sleep(0)
        assert timer.cancelled(), "the idle timer outlived its cancellation"
    finally:
        writer.close()
        client_sock.close()
