"""Running compose's load balancer (deploy/nginx.conf) on loopback (scripts/test installs nginx)."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.e2e.servers import ROOT, free_port, wait_ready

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)


def start_nginx(
    tmp: Path, upstream_port: int, *, wait: bool = True, read_timeout: str | None = None
) -> tuple[subprocess.Popen, int]:
    """deploy/nginx.conf with the addresses a container would give it replaced by loopback ones (and,
    for the 504 test only, a shorter proxy_read_timeout than its 35 s)."""
    assert NGINX is not None, "nginx is not installed: scripts/ensure-nginx (or apt-get install nginx-light)"
    tmp.mkdir(parents=True, exist_ok=True)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    if read_timeout:
        assert "proxy_read_timeout 35s;" in conf
        conf = conf.replace("proxy_read_timeout 35s;", f"proxy_read_timeout {read_timeout};")
    port = free_port()
    conf = conf.replace("server api:8000;", f"server 127.0.0.1:{upstream_port};")
    conf = conf.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    # Files nginx writes go to the test's folder instead of /var (the container's own filesystem).
    paths = "".join(
        f"    {name}_temp_path {tmp}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", f"http {{\n    access_log off;\n{paths}", 1)
    assert conf.count("127.0.0.1") == 2
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
