"""A DNS server on loopback that answers as compose's embedded DNS (127.0.0.11) does: one name, one A
record for each replica of a service. deploy/nginx.conf finds the api replicas through it."""

import threading
from typing import Any

from dnslib import QTYPE, RR, A
from dnslib.server import DNSLogger, DNSServer

from tests.e2e.servers import free_port


class ServiceNames:
    """``names`` maps a service's name to its replicas' addresses; change it while nginx runs, as
    ``docker compose up --scale`` changes compose's answers."""

    def __init__(self, names: dict[str, list[str]], ttl: int = 1) -> None:
        self.names = names
        self.ttl = ttl
        self.lock = threading.Lock()
        self.asked: list[str] = []
        self.port = free_port()  # a UDP port; the TCP one of that number was free a moment ago
        self.server = DNSServer(
            self,
            address="127.0.0.1",
            port=self.port,
            logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
        )

    def set(self, name: str, addresses: list[str]) -> None:
        with self.lock:
            self.names[name] = addresses

    def resolve(self, request: Any, handler: Any) -> Any:  # dnslib's resolver interface
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        with self.lock:
            self.asked.append(name)
            addresses = list(self.names.get(name, []))
        if request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=self.ttl))
        if not addresses:
            reply.header.rcode = 3  # NXDOMAIN
        return reply

    def __enter__(self) -> "ServiceNames":
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
