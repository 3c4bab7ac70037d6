"""Running compose's load balancer (deploy/nginx.conf) on loopback (scripts/test installs nginx)."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.e2e.dns import ServiceNames
from tests.e2e.servers import ROOT, free_port, wait_ready

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)


_loopback_api: ServiceNames | None = None


def loopback_api() -> ServiceNames:
    """One DNS server for the run that answers "api" with 127.0.0.1: a single api on loopback."""
    global _loopback_api  # started once, on first use, for every test that needs it
    if _loopback_api is None:
        _loopback_api = ServiceNames({"api": ["127.0.0.1"]}).__enter__()
    return _loopback_api


def start_nginx(
    tmp: Path,
    upstream_port: int,
    *,
    wait: bool = True,
    read_timeout: str | None = None,
    names: ServiceNames | None = None,
    resolver_valid: str | None = None,
) -> tuple[subprocess.Popen, int]:
    """deploy/nginx.conf with compose's DNS replaced by ``names`` on loopback (by default one api at
    127.0.0.1), the api's port by ``upstream_port``, and the listening address by a loopback one
    (and, for the 504 test only, a shorter proxy_read_timeout than its 35 s; for the scaling test, a
    shorter life of DNS answers than its 5 s)."""
    assert NGINX is not None, "nginx is not installed: scripts/ensure-nginx (or apt-get install nginx-light)"
    tmp.mkdir(parents=True, exist_ok=True)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    if read_timeout:
        assert "proxy_read_timeout 35s;" in conf
        conf = conf.replace("proxy_read_timeout 35s;", f"proxy_read_timeout {read_timeout};")
    names = names or loopback_api()
    port = free_port()
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in conf and "set $zupy_api api:8000;" in conf
    valid = resolver_valid or "5s"
    conf = conf.replace("resolver 127.0.0.11 valid=5s", f"resolver 127.0.0.1:{names.port} valid={valid}")
    conf = conf.replace("set $zupy_api api:8000;", f"set $zupy_api api:{upstream_port};")
    conf = conf.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    # Files nginx writes go to the test's folder instead of /var (the container's own filesystem).
    paths = "".join(
        f"    {name}_temp_path {tmp}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", f"http {{\n    access_log off;\n{paths}", 1)
    assert conf.count("127.0.0.1:") == 2  # the resolver and the listening address
    (tmp / "nginx.conf").write_text(conf)
    globals_ = f"daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;"
    argv = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", globals_]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while True:  # until nginx listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
    if wait:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process=proc)
    return proc, port
