"""The suite cannot reach beyond loopback: not by connecting, not by asking DNS."""

import socket

import pytest
import requests
from pytest_socket import SocketConnectBlockedError

# pytest-socket warns as it refuses; here the refusal is the point.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_connection_beyond_loopback_is_refused():
    with pytest.raises(SocketConnectBlockedError, match=r"93\.184\.216\.34"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)


def test_an_ipv6_connection_beyond_loopback_is_refused():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(SocketConnectBlockedError):
        sock.connect(("2606:2800:220:1:248:1893:25c8:1946", 443))


def test_a_library_call_beyond_loopback_is_refused():
    with pytest.raises(SocketConnectBlockedError):
        requests.get("http://93.184.216.34/", timeout=1)


def test_names_other_than_localhost_do_not_resolve():
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("localhost", 80)


def test_loopback_still_connects():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=1).close()
