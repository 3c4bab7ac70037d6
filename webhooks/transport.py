"""Where a webhook may go, and the one POST that takes it there.

Every rule about a receiver's URL and address lives here, so configuration and delivery apply the same
ones: a URL is checked when a company configures it and again right before each attempt (DNS may have
changed in between). The POST connects to the address that was checked, never to a fresh lookup, and
never follows a redirect: an attacker's DNS or an attacker's 3xx cannot point us into the private
network.
"""

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3
from django.conf import settings

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


def post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    """POST ``body`` to ``url`` once; return (status, seconds). Raises ``Refused`` for a URL or
    address that fails the rules, and whatever the connection raises (the caller records it).

    The connection goes to the checked IP; the request carries the original Host header, and TLS
    sends the host name as SNI and verifies the certificate against it. Redirects are not followed
    (a 3xx comes back as its status); the response body is never read.
    """
    target = target_of(url)
    address = checked_address(target)
    timeout = urllib3.Timeout(connect=settings.WEBHOOK_TIMEOUT, read=settings.WEBHOOK_TIMEOUT)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, target.port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
            server_hostname=target.host, assert_hostname=target.host,
        )  # fmt: skip
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
    started = time.monotonic()
    with pool:
        response = pool.urlopen(
            "POST", target.path, body=body, headers={**headers, "Host": target.host_header},
            retries=False, redirect=False, assert_same_host=False, preload_content=False,
        )  # fmt: skip
        status = response.status
        response.close()
    return status, time.monotonic() - started
