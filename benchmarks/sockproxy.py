"""A one-process Unix-socket relay: ``python -m benchmarks.sockproxy LISTEN TARGET``.

Each client connection to LISTEN is relayed to a new connection to TARGET (e.g. libvirtd's
socket). Being one process, ``kill -STOP`` on it hangs every connection through it at once:
the multi-host benchmark uses that to make one "host" hang without touching libvirtd.

``python -m benchmarks.sockproxy --tcp PORT TARGET_PORT --delay 0.04``: a TCP relay on
127.0.0.1 that delivers every byte ``delay`` seconds late in each direction (a link with an
80 ms round trip), without limiting bandwidth: chunks are queued with their due time and
written in order, so requests sent together stay together (benchmarks/scale.py, over ssh).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import sys


def relay(listen: str, target: str) -> None:
    if os.path.exists(listen):
        os.unlink(listen)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen)
    server.listen(16)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ, None)
    peers: dict[socket.socket, socket.socket] = {}
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is server:
                client, _ = server.accept()
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(target)
                peers[client], peers[upstream] = upstream, client
                sel.register(client, selectors.EVENT_READ, None)
                sel.register(upstream, selectors.EVENT_READ, None)
                continue
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            other = peers.get(sock)
            if not data or other is None:
                for s in (sock, other):
                    if s is not None:
                        sel.unregister(s)
                        peers.pop(s, None)
                        s.close()
                continue
            other.sendall(data)


async def _delayed_pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            when, data = await due.get()
            if not data:
                break
            wait = when - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(1 << 16)
            due.put_nowait((loop.time() + delay, data))
            if not data:
                break
    except OSError:
        due.put_nowait((0.0, b""))
    await sender


async def tcp_relay(port: int, target_port: int, delay: float) -> None:
    async def serve(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        u_reader, u_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            _delayed_pipe(c_reader, u_writer, delay),
            _delayed_pipe(u_reader, c_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "--tcp":
        delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.04
        asyncio.run(tcp_relay(int(sys.argv[2]), int(sys.argv[3]), delay))
    else:
        relay(sys.argv[1], sys.argv[2])
