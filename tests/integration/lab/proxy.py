"""A TCP proxy inside the test: it can freeze a link (sockets stay open, nothing moves) or trickle
the host->device direction at a few bytes per second, as a flaky network would."""

from __future__ import annotations

import socket
import threading
import time


class Proxy:
    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.frozen = threading.Event()
        self.rate: float | None = None  # host->device bytes per second when trickling
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self.frozen.set()

    def trickle(self, bytes_per_second: float) -> None:
        self.rate = bytes_per_second

    def close(self) -> None:
        self.server.close()
        for s in self.sockets:  # shutdown first: close() alone leaves a recv() in a pump holding the link open
            for step in (lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                try:
                    step()
                except OSError:
                    pass

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_device: bool) -> None:
        try:
            while True:
                if self.frozen.is_set():
                    time.sleep(0.05)
                    continue
                rate = self.rate if to_device else None
                data = src.recv(max(1, int(rate / 10)) if rate else 65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                while self.frozen.is_set():  # frozen while this recv waited: hold what it got
                    time.sleep(0.05)
                dst.sendall(data)
                if rate:
                    time.sleep(0.1)
        except OSError:
            return
