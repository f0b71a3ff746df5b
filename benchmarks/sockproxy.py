"""A one-process Unix-socket relay: ``python -m benchmarks.sockproxy LISTEN TARGET``.

Each client connection to LISTEN is relayed to a new connection to TARGET (e.g. libvirtd's
socket). Being one process, ``kill -STOP`` on it hangs every connection through it at once:
the multi-host benchmark uses that to make one "host" hang without touching libvirtd.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    relay(sys.argv[1], sys.argv[2])
