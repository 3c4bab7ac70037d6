"""The one outbound HTTP client (urllib3), with the house rules for calling someone else's server:
no retries (the caller decides whether and when to try again, and records each try), no redirects (a
3xx is an answer, not an instruction to send the body elsewhere), certificates verified, a time bound
on every call, and the answer's body never read.

``http_post`` is for a URL the operator configured (the OTP gateway), through one PoolManager per
process; as the body is not read, each answer's connection is closed rather than reused (an endless
body cannot hold a call). ``pinned_pool`` is for a URL a partner gave, whose address was checked first:
the connection goes to that address and TLS still verifies the host name.
"""

import threading

import urllib3

CERT_REQUIRED = "CERT_REQUIRED"  # stated, though urllib3 verifies by default
_lock = threading.Lock()
_manager: urllib3.PoolManager | None = None


class HttpFailed(Exception):
    """The call did not get an answer: refused, reset, timed out, a TLS failure. ``str(exc)`` names
    the error's type only (a URL may carry a token)."""


def _timeout(seconds: float) -> urllib3.Timeout:
    # ``total`` bounds connecting and waiting for the answer together; connect and read alone would
    # each allow the whole budget.
    return urllib3.Timeout(total=seconds, connect=seconds, read=seconds)


def pool_manager() -> urllib3.PoolManager:
    """The process's PoolManager, created on first use (after a pre-forking server has forked)."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = urllib3.PoolManager(num_pools=10, retries=False, cert_reqs=CERT_REQUIRED)
        return _manager


def http_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` once and return the answer's status (a 3xx included, not followed).
    Raises ``HttpFailed`` when no answer came within ``timeout`` seconds, or ``url`` is not http(s)."""
    if not url.startswith(("https://", "http://")):
        raise HttpFailed("not an http(s) URL")
    try:
        response = pool_manager().request(
            "POST", url, body=body, headers=headers, timeout=_timeout(timeout),
            retries=False, redirect=False, preload_content=False,
        )  # fmt: skip
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise HttpFailed(type(exc).__name__) from exc
    status = response.status
    response.close()
    return status


def pinned_pool(
    *, scheme: str, address: str, port: int, server_hostname: str, timeout: float
) -> urllib3.HTTPConnectionPool:
    """A connection pool to ``address`` (already checked by the caller) that, over https, sends
    ``server_hostname`` as SNI and verifies the certificate against it. Use it as a context manager;
    send with ``redirect=False, assert_same_host=False`` and the caller's own Host header."""
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, port, timeout=_timeout(timeout), retries=False,
            server_hostname=server_hostname, assert_hostname=server_hostname, cert_reqs=CERT_REQUIRED,
        )  # fmt: skip
    return urllib3.HTTPConnectionPool(address, port, timeout=_timeout(timeout), retries=False)
