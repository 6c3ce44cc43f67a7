"""A connection's timer: idle, header and drain limits, and the requests a draining worker still holds."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.events import Closed, RawData, Updated

from xianxia.serve.connection import GuardedTCPServer, bytes_waiting
from xianxia.serve.options import ConnectionLimits

Connected = tuple[GuardedTCPServer, socket.socket, WorkerContext]


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


class Protocol:
    """Stands in for hypercorn's HTTP protocol: what the connection hands it."""

    def __init__(self) -> None:
        self.events: list[object] = []

    async def handle(self, event: object) -> None:
        self.events.append(event)


@pytest.fixture
async def connection() -> AsyncIterator[Connected]:
    """A GuardedTCPServer on one end of a socket pair (limits of minutes: nothing fires by itself here)."""
    server_sock, client_sock = socket.socketpair()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, protocol = await loop.connect_accepted_socket(
        lambda: asyncio.StreamReaderProtocol(reader), sock=server_sock
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    limits = ConnectionLimits(first_request=600, header=500, keep_alive=400, drain_grace=300, max_connections=10)
    context = WorkerContext(None)
    server = GuardedTCPServer(None, loop, Config(), context, {}, reader, writer, limits=limits)
    server.protocol = Protocol()  # type: ignore[assignment]
    try:
        yield server, client_sock, context
    finally:
        server.disarm()
        writer.close()
        client_sock.close()


def timer(server: GuardedTCPServer) -> tuple[Callable[[], None], float]:
    """What the connection's timer will do, and in how many seconds (of the loop's clock)."""
    handle = server._timer
    assert handle is not None, "no timer armed"
    return handle._callback, handle.when() - asyncio.get_running_loop().time()  # type: ignore[attr-defined]


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_each_phase_of_a_connection_runs_on_its_own_limit(connection: Connected) -> None:
    server, client, _ = connection
    server.arm_idle()  # hypercorn does this as the connection opens
    action, left = timer(server)
    assert action == server._idle_over and 590 < left <= 600  # the first-request limit
    reading = asyncio.create_task(server._read_data())
    client.sendall(b"GET / HTTP/1.1\r\n")
    await turns()
    action, left = timer(server)
    assert action == server._headers_too_slow and 490 < left <= 500  # the header clock, from the first byte
    await server.protocol_send(Updated(idle=False))  # headers complete: the app has the request
    assert server._timer is None and server.requests == 1
    await server.protocol_send(Updated(idle=True))  # answered: keep-alive
    action, left = timer(server)
    assert action == server._idle_over and 390 < left <= 400
    client.close()
    await reading
    assert server._timer is None  # the client left: nothing is left armed


async def test_a_draining_idle_connection_closes_after_the_grace_unless_a_request_waits(connection: Connected) -> None:
    server, client, context = connection
    server.arm_idle()
    await context.terminated.set()
    server.drain_begins()
    action, left = timer(server)
    assert action == server._drain_grace_over and 290 < left <= 300
    client.sendall(b"POST /api/players/p1/act HTTP/1.1\r\n")  # on the wire, not read by a busy loop yet
    server._drain_grace_over()
    action, left = timer(server)
    assert action == server._idle_over and 590 < left <= 600  # it waits out the limit for the read loop
    assert not server.writer.is_closing()


async def test_drain_and_a_request_in_the_same_instant_keep_the_request(connection: Connected) -> None:
    """Drain may begin in the very step a request's first byte is read (found by `make chaos` on an older timer,
    a task that swallowed its cancellation there and closed the connection with the request unanswered)."""
    server, client, context = connection
    server.arm_idle()
    reading = asyncio.create_task(server._read_data())
    await turns()
    client.sendall(b"GET / HTTP/1.1\r\n")
    await context.terminated.set()
    server.drain_begins()
    await turns()
    action, _ = timer(server)
    assert action == server._headers_too_slow  # the request's own clock, not the drain's
    assert server.protocol.events == [RawData(b"GET / HTTP/1.1\r\n")]  # type: ignore[attr-defined]
    assert not server.writer.is_closing()
    server.drain_begins()  # told again mid-request: it does not cut a request being received
    assert timer(server)[0] == server._headers_too_slow
    client.close()
    await reading


async def test_an_idle_connection_drained_with_nothing_waiting_is_closed(connection: Connected) -> None:
    server, _, context = connection
    await context.terminated.set()
    server.arm_idle()  # idle after drain began: the grace, not the limit
    action, left = timer(server)
    assert action == server._drain_grace_over and 290 < left <= 300
    server._drain_grace_over()
    assert server.writer.is_closing() and server._timer is None
    await turns()
    assert Closed() in server.protocol.events  # type: ignore[attr-defined]


async def test_headers_over_their_limit_close_the_connection_in_that_step(connection: Connected) -> None:
    server, client, _ = connection
    server.arm_idle()
    reading = asyncio.create_task(server._read_data())
    client.sendall(b"GET / HTTP/1.1\r\n")  # and no more: a trickling client
    await turns()
    assert timer(server)[0] == server._headers_too_slow
    server._headers_too_slow()
    assert server.writer.is_closing()  # the rest of its headers, read later, never reach the app
    await reading
    assert server._timer is None
