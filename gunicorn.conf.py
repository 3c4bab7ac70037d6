"""gunicorn settings (read automatically from the working directory), driven by the environment."""

import os
import shutil
import tempfile

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread whose event loop reads each request whole (head, and body up to the limit) before a thread
# takes it, so slow clients hold no thread; GUNICORN_READ_TIMEOUT (10 s) bounds the read: 408.
worker_class = "core.gunicorn_worker.BufferingThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
accesslog = None  # core.observability writes one JSON line per request
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 25+ opens a control socket (for gunicornc) at $HOME/.gunicorn/gunicorn.ctl by default: one
# path for every gunicorn of a user, so servers started side by side (tests, bench, a second
# scripts/serve) take it from each other, and an unprivileged container user may not create it. Nothing
# here uses gunicornc.
control_socket_disable = True
# Above the application's own bounds (zupy settings ZUPY_MAX_REQUEST_LINE 4094, ZUPY_MAX_HEADER_BYTES
# 8190, ZUPY_MAX_HEADERS 100), so an oversized request reaches RequestBoundsMiddleware and gets
# problem+json 414/431. 8190 is gunicorn's largest request line short of "unlimited" (0); what gunicorn
# still refuses itself is rendered as problem+json too (post_worker_init below).
limit_request_line = 8190
limit_request_field_size = 32768
limit_request_fields = 200

# Prometheus: each worker writes its samples here and /metrics adds them up across workers.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"zupy-prometheus-{os.getpid()}")
)


def on_starting(server: Arbiter) -> None:
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def post_worker_init(worker: Worker) -> None:
    from core.gunicorn_errors import install

    install()


def child_exit(server: Arbiter, worker: Worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
