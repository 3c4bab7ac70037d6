"""A slowloris client: sockets that send a request a little at a time, bounded in time, on loopback."""

import socket
import threading
import time
from types import TracebackType


class SlowClients:
    """``count`` sockets to 127.0.0.1:``port``, each sending its request slowly for at most
    ``drip_for`` seconds: half send the head one header line every ``every`` seconds and never end it,
    half send a whole head announcing a 100-byte body and then the body one byte every ``every``
    seconds. Each stops when the server answers or closes; ``answers()`` waits for them all."""

    def __init__(self, port: int, *, count: int, drip_for: float, every: float = 0.5) -> None:
        self.port, self.every = port, every
        self.stop_at = time.monotonic() + drip_for
        self._answers: list[bytes] = [b""] * count
        self._open = [False] * count
        self._connected = threading.Barrier(count + 1, timeout=30)
        self._threads = [threading.Thread(target=self._drip, args=(i,), daemon=True) for i in range(count)]

    def __enter__(self) -> "SlowClients":
        for thread in self._threads:
            thread.start()
        self._connected.wait()  # every socket connected and its first bytes sent
        time.sleep(self.every)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop_at = 0.0
        for thread in self._threads:
            thread.join(timeout=30)

    def still_open(self) -> int:
        return sum(self._open)

    def answers(self) -> list[bytes]:
        for thread in self._threads:
            thread.join(timeout=self.stop_at - time.monotonic() + 30)
        return self._answers

    def _drip(self, i: int) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            if i % 2:
                start, drips = (
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                    (b"X-Drip: %d\r\n" % n for n in range(10**6)),
                )
            else:
                start = (
                    b"POST /api/v2/customers/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                )
                drips = (b" " for _ in range(10**6))
            sock.sendall(start)
            self._open[i] = True
            self._connected.wait()
            sock.settimeout(self.every)
            while time.monotonic() < self.stop_at:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    try:
                        sock.sendall(next(drips))
                    except OSError:
                        break  # closed by the server
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                self._answers[i] += chunk
            self._open[i] = False
