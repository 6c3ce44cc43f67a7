"""A draining worker keeps a connection whose request bytes it holds but has not read yet."""

from __future__ import annotations

import asyncio
import socket

from xianxia.serve.connection import bytes_waiting


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
