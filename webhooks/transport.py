"""Where a webhook may go, and the one POST that takes it there.

Every rule about a receiver's URL and address lives here, so configuration and delivery apply the same
ones: a URL is checked when a company configures it and again right before each attempt (DNS may have
changed in between). The POST connects to the address that was checked, never to a fresh lookup, and
never follows a redirect: an attacker's DNS or an attacker's 3xx cannot point us into the private
network. Each POST has one wall-clock deadline for all of it (connect, TLS, send, status line and
headers), enforced by a watchdog, so a receiver that answers one byte at a time cannot hold the
caller longer than that.
"""

import contextlib
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from webhooks.models import URL_MAX_LENGTH

# RFC 3986: unreserved, reserved (gen-delims and sub-delims) and "%" for percent-encoding. Anything
# else (a space, CR or LF, a control character, non-ASCII) would make an invalid or smuggled request.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")

# Refused whatever ``ipaddress`` says about them: ``is_global`` has been wrong before (it changes
# between Python releases), and some global-looking ranges reach IPv4 space we cannot check from here
# (NAT64, 6to4, Teredo and IPv4-mapped/compatible addresses embed an IPv4 address; we refuse them
# outright rather than trust the embedded one).
DENIED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)


class Refused(Exception):
    """The URL or the address it resolves to may not receive webhooks; ``str(exc)`` says why."""


@dataclass(frozen=True)
class Target:
    """A checked receiver URL, split into what the connection needs."""

    scheme: str
    host: str  # the name (or literal address) for DNS, SNI and certificate checks
    port: int
    host_header: str  # as written in the URL: host[:port]
    path: str  # path and query, as sent on the request line


def target_of(url: str) -> Target:
    """Split ``url`` after checking its syntax (no DNS). Raises ``Refused``."""
    if len(url) > URL_MAX_LENGTH:
        raise Refused(f"Must be at most {URL_MAX_LENGTH} characters.")
    if not _URL_CHARACTERS.fullmatch(url) or _BAD_PERCENT.search(url):
        raise Refused(
            "Must contain only URL characters (RFC 3986): no spaces, control characters or line breaks."
        )
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError:  # e.g. a bracketed host that is not an IPv6 address
        raise Refused("Must be an absolute http(s) URL.") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise Refused("Must be an absolute http(s) URL.")
    if parts.scheme != "https" and not settings.WEBHOOK_ALLOW_HTTP:
        raise Refused("Must use https.")
    if "@" in parts.netloc:
        raise Refused("Credentials in the URL are not allowed; use the signature to authenticate.")
    if parts.fragment or url.endswith("#"):
        raise Refused("A fragment is never sent; leave it out.")
    try:
        port = parts.port
    except ValueError:
        raise Refused("The port must be a number from 1 to 65535.") from None
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise Refused("The port must be a number from 1 to 65535.")
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise Refused("The host is not a valid IPv6 address.") from None
    elif not _HOST_NAME.fullmatch(host) or len(host) > 253:
        raise Refused("The host is not a valid host name.")
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        host_header=parts.netloc,
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )


def address_refusal(address: str) -> str | None:
    """Why a receiver at ``address`` (an IP literal) is refused, or None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if not ip.is_global or any(ip in network for network in DENIED_NETWORKS if network.version == ip.version):
        return f"The host resolves to a private, loopback or reserved address ({ip})."
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (one lookup). Tests replace this to point names at loopback."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def checked_address(target: Target) -> str:
    """Resolve the host once and check every address it gave; the first one is the one to connect
    to. Every address must pass, so round-robin DNS cannot smuggle a private one in. Raises
    ``Refused``."""
    try:
        addresses = resolve(target.host, target.port)
    except (OSError, UnicodeError):
        raise Refused("The host name does not resolve.") from None
    if not addresses:
        raise Refused("The host name does not resolve.")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if reason := address_refusal(address):
                raise Refused(reason)
    return addresses[0].split("%")[0]


def url_refusal(url: str) -> str | None:
    """Why ``url`` may not receive webhooks, or None (syntax, scheme and every resolved address)."""
    try:
        checked_address(target_of(url))
    except Refused as exc:
        return str(exc)
    return None


class DeadlineExceeded(Exception):
    """The attempt was cut off at its deadline; ``str(exc)`` says so, with the deadline."""


class Interrupted(Exception):
    """The attempt was cut off because its caller asked to stop (the worker is shutting down)."""


# How often a watchdog looks at its caller's stop event. Only callers that can be stopped (the
# worker) pay for it; a ping's watchdog sleeps until its deadline or the end of the attempt.
_STOP_POLL = 0.1


class Watchdog:
    """One attempt's deadline. A thread of its own waits for the deadline (or the caller's ``stop``)
    and then shuts the attempt's socket down, which ends a blocking connect, TLS handshake, send or
    read at once, wherever the attempt is. Socket timeouts cannot do this: they bound each read, and
    a receiver that sends a byte a second never lets one of them expire.

    It shuts down a duplicate of the socket (same connection, its own descriptor), so it never
    touches a descriptor that the attempt closed and the process reused for something else."""

    EXPIRED, STOPPED = "expired", "stopped"

    def __init__(self, seconds: float, stop: threading.Event | None = None) -> None:
        self.expires = time.monotonic() + seconds
        self.fired: str | None = None  # why the attempt was cut off, if it was
        self._stop = stop
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sockets: list[socket.socket] = []

    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def start(self) -> None:
        threading.Thread(target=self._run, name="webhook-deadline", daemon=True).start()

    def _run(self) -> None:
        while True:
            if self._stop is not None and self._stop.is_set():
                return self._cut(self.STOPPED)
            left = self.expires - time.monotonic()
            if left <= 0:
                return self._cut(self.EXPIRED)
            if self._done.wait(left if self._stop is None else min(left, _STOP_POLL)):
                return None

    def _cut(self, reason: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.fired = reason
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # not connected yet, or closed by the other side
                    sock.shutdown(socket.SHUT_RDWR)

    def connect(self, address: tuple[str, int], timeout: float | None) -> socket.socket:
        """A TCP connection to ``address`` (an IP literal), watched from before ``connect()``."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            with self._lock:
                if self.fired or self._done.is_set():
                    raise TimeoutError("the attempt was cut off before it connected")
                self._sockets.append(sock.dup())
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.remaining() if timeout is None else min(timeout, self.remaining()))
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def finish(self) -> None:
        """The attempt is over: the watchdog stands down and lets go of its duplicates."""
        with self._lock:
            self._done.set()
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _connect(conn: HTTPConnection, watchdog: Watchdog) -> socket.socket:
    """``_new_conn`` of the connections below: the one place urllib3 makes the socket (for TLS,
    before the handshake), so the watchdog holds it from the start. Errors as urllib3 raises them."""
    timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
    try:
        return watchdog.connect((conn.host, conn.port), timeout)
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


class _Connection(HTTPConnection):
    def __init__(self, *args: Any, watchdog: Watchdog, **kwargs: Any) -> None:
        self._watchdog = watchdog
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _connect(self, self._watchdog)


class _TlsConnection(HTTPSConnection):
    def __init__(self, *args: Any, watchdog: Watchdog, **kwargs: Any) -> None:
        self._watchdog = watchdog
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _connect(self, self._watchdog)


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


def post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float, stop: threading.Event | None = None
) -> tuple[int, float]:
    """POST ``body`` to ``url`` once; return (status, seconds). Raises ``Refused`` for a URL or
    address that fails the rules, ``DeadlineExceeded`` when the whole attempt (connect, TLS, send,
    status line and headers) takes longer than ``timeout`` seconds, ``Interrupted`` when ``stop`` is
    set during it, and whatever else the connection raises (the caller records it).

    The connection goes to the checked IP; the request carries the original Host header, and TLS
    sends the host name as SNI and verifies the certificate against it. Redirects are not followed
    (a 3xx comes back as its status); the response body is never read.
    """
    # The clock starts before the DNS lookup, which counts against the deadline (though the
    # watchdog cannot cut a lookup short: it has no socket to shut).
    watchdog = Watchdog(timeout, stop)
    target = target_of(url)
    address = checked_address(target)
    started = time.monotonic()
    watchdog.start()
    try:
        left = watchdog.remaining()
        if left <= 0:
            raise TimeoutError("the name lookup used up the deadline")
        # Socket timeouts too, as a second line: no single read outlasts the deadline.
        limits = urllib3.Timeout(connect=left, read=left)
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = _TlsPool(
                address, target.port, timeout=limits, retries=False, cert_reqs="CERT_REQUIRED",
                server_hostname=target.host, assert_hostname=target.host, watchdog=watchdog,
            )  # fmt: skip
        else:
            pool = _Pool(address, target.port, timeout=limits, retries=False, watchdog=watchdog)
        with pool:
            response = pool.urlopen(
                "POST", target.path, body=body, headers={**headers, "Host": target.host_header},
                retries=False, redirect=False, assert_same_host=False, preload_content=False,
            )  # fmt: skip
            status = response.status
            response.close()
        watchdog.finish()
        if watchdog.fired:
            # Cut off mid-answer: what http.client made of it (a status line without its CRLF,
            # headers "ended" by the shutdown) is not the receiver's answer.
            raise TimeoutError("the answer was cut off at the deadline")
    except Exception as exc:
        if watchdog.fired == Watchdog.STOPPED:
            raise Interrupted("stopped: the worker shut down during the attempt") from exc
        # (urllib3's NewConnectionError, a refused connection, is a ConnectTimeoutError too.)
        timed_out = isinstance(exc, TimeoutError | Urllib3Timeout) and not isinstance(exc, NewConnectionError)
        if watchdog.fired or timed_out:
            raise DeadlineExceeded(
                f"timed out: no complete answer within {timeout:g} s (connect, send and response)"
            ) from exc
        raise
    finally:
        watchdog.finish()
    return status, time.monotonic() - started
