"""A small TCP proxy on loopback that can drop the link: refuse every connection (link down), cut a
fraction of connections at a random point, or cut each connection after N bytes from the client (the
middle of a picture). A thread runs it; the tests and the benchmark steer it while traffic flows."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from dataclasses import dataclass, field

from .required import free_port


@dataclass
class Proxy:
    target_port: int
    port: int = field(default_factory=free_port)
    down: bool = False  # refuse (close at once) every new connection
    cut_fraction: float = 0.0  # this share of connections is cut at a random point
    cut_after_bytes: int | None = None  # every connection is cut once the client has sent this much
    seed: int = 0
    connections: int = 0
    cut: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=256)
        self._stopped = False
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_link(self) -> None:
        """The link goes down: refuse new connections and cut every open one."""
        with self._lock:
            self.down = True
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                down = self.down
                limit = self.cut_after_bytes
                if limit is None and self._random.random() < self.cut_fraction:
                    limit = self._random.randint(1, 400)  # inside the request: headers or body
            if down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[: max(0, limit - sent)])
                    with self._lock:
                        self.cut += 1
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                with self._lock:
                    self._open.discard(sock)
