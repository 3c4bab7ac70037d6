"""The Docker image, built and run without Docker (no container engine runs in CI).

One test replays the Dockerfile step by step: it lays out what ``COPY`` copies (honouring .dockerignore
with Docker's rules, tests/dockerfile.py), installs the project non-editable into a fresh virtualenv
(the image's Python), runs the ``RUN`` steps with the Dockerfile's ``ENV``, runs compose's one-shot
``migrate`` against a throwaway PostgreSQL database, starts the ``CMD`` from ``WORKDIR``, runs the
``HEALTHCHECK``, and drives the result over HTTP, ending with ``scripts/smoke``.

Where it must differ from a container, and why (anything else that differs is a bug in this test):
- ``FROM python:3.11-slim``: the image's interpreter is this machine's Python 3.11 in a fresh venv, put
  first on PATH so ``pip``, ``python`` and ``gunicorn`` in the steps are the venv's (as they are the
  image's system ones in the container). The step asserts the major.minor version matches.
- ``WORKDIR /app``: a temporary folder.
- ``RUN useradd ...`` and ``USER``: not run. They would add a user to this machine's /etc/passwd; the
  steps after them run as the test's user.
- The runtime environment is compose's (docker-compose.yml, the api service) with loopback addresses
  for PostgreSQL and Redis, a throwaway database, a random SECRET_KEY, and ``GUNICORN_BIND`` on a free
  loopback port instead of ``0.0.0.0:8000`` (``EXPOSE``): tests never listen beyond loopback.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

from tests.dockerfile import DockerIgnore, context_files, parse_dockerfile, parse_env
from tests.e2e.nginx import start_nginx
from tests.e2e.servers import ROOT, free_port, stop

pytestmark = pytest.mark.slow

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The smallest environment a container starts with; the Dockerfile's ENV is added to it.
BASE_ENV = {"HOME": "/root", "LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def machine_pip_env() -> dict[str, str]:
    """How this machine reaches the package registry (the docker build's network, so to speak)."""
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in {"SSL_CERT_FILE"}}


def compose_runtime_env(database: str, secret: str) -> dict[str, str]:
    """The api service's environment from docker-compose.yml, ${VAR:-default} resolved to defaults."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {}
    for name, value in compose["services"]["api"]["environment"].items():
        env[name] = re.sub(r"\$\{(\w+):?[-?]([^}]*)\}", lambda m: m.group(2), str(value))
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix={database}",
        SECRET_KEY=secret,
        # Production senders: nothing here sends an OTP, and none may print one.
        OTP_PHONE_SENDER="otp.senders.HttpGatewaySender",
        OTP_GATEWAY_URL="https://otp-gateway.invalid/send",
        EMAIL_URL="smtp://127.0.0.1:1",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
    )
    return env


@pytest.fixture
def database() -> Iterator[str]:
    name = f"zupy_image_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_step(argv: list[str] | str, *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    run = subprocess.run(
        ["/bin/sh", "-c", argv] if isinstance(argv, str) else argv,
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    output = f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, f"{argv} failed ({run.returncode}):\n{output}"
    return run.stdout


def test_the_image_recipe_builds_migrates_serves_and_passes_the_smoke_test(
    tmp_path: Path, database: str
) -> None:
    started = time.monotonic()
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    instructions = parse_dockerfile((ROOT / "Dockerfile").read_text())
    venv = tmp_path / "venv"
    workdir: Path | None = None
    build_env = {**BASE_ENV, **machine_pip_env()}
    cmd: list[str] | None = None
    healthcheck: list[str] | None = None

    for step in instructions:
        if step.name == "FROM":
            match = re.fullmatch(r"python:(\d+)\.(\d+)(?:[.-]\S*)?", step.args)
            assert match, f"the test knows how to stand in for python:X.Y images only, not {step.args}"
            assert sys.version_info[:2] == (int(match[1]), int(match[2])), "the image's Python differs"
            run_step([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=build_env)
            build_env["PATH"] = f"{venv / 'bin'}:{build_env['PATH']}"
        elif step.name == "ENV":
            build_env.update(parse_env(step.args))
        elif step.name == "WORKDIR":
            workdir = tmp_path / step.args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.name == "RUN":
            if step.args.startswith("useradd "):
                continue  # see the module docstring
            assert workdir is not None
            form = step.exec_form()
            run_step(form if form is not None else step.args, cwd=workdir, env=build_env)
        elif step.name == "COPY":
            assert workdir is not None
            *sources, dest = shlex_split(step.args)
            assert not any(s.startswith("--") for s in sources), "COPY flags: teach the test first"
            target = (workdir / dest).resolve()
            for source in sources:
                copy_context(source, target, ignore)
        elif step.name == "USER":
            continue  # see the module docstring
        elif step.name == "EXPOSE":
            assert step.args == "8000"  # gunicorn.conf.py's default bind; here GUNICORN_BIND
        elif step.name == "HEALTHCHECK":
            healthcheck = json.loads(step.args[step.args.index("CMD") + 3 :].strip())
        elif step.name == "CMD":
            cmd = step.exec_form()
        else:
            pytest.fail(f"Dockerfile instruction {step.name} is not replayed by this test yet")
    assert workdir is not None and cmd is not None and healthcheck is not None

    # Point 1 of the recipe: every local app is installed (not only importable from WORKDIR).
    site = next((venv / "lib").glob("python3*/site-packages"))
    for app in ("zupy", "customers", "rewards", "coupons", "otp", "webhooks"):
        assert (site / app / "__init__.py").exists(), f"pip install . left out {app}"
    assert not (site / "tests").exists(), "the tests are not part of the package"
    assert (workdir / "staticfiles" / "staticfiles.json").exists(), "collectstatic did not run"

    port = free_port()
    run_env = {
        **BASE_ENV,
        "PATH": build_env["PATH"],
        **{k: v for k, v in build_env.items() if k.startswith(("PYTHON", "PIP_"))},
        **compose_runtime_env(database, secret="image-" + uuid.uuid4().hex + uuid.uuid4().hex),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    # compose's one-shot migrate service, then demo data through the image's own command.
    run_step(["python", "manage.py", "migrate", "--noinput"], cwd=workdir, env=run_env)
    seeded = json.loads(run_step(["python", "manage.py", "seed_demo", "--json"], cwd=workdir, env=run_env))

    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        cmd, cwd=workdir, env=run_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/readyz", server, tmp_path / "gunicorn.log")
        run_step(healthcheck, cwd=workdir, env=run_env, timeout=10)

        login = requests.get(f"{base}/admin/login/", timeout=10)
        assert login.status_code == 200
        css = re.findall(r'href="(/static/[^"]+\.css)"', login.text)
        assert css and all(".css" in href for href in css)
        for href in css:  # hashed names from the manifest, served by WhiteNoise from the image
            asset = requests.get(base + href, timeout=10)
            assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/css"), href

        docs = requests.get(f"{base}/api/v2/docs/", timeout=10)
        assert docs.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
        sidecar = [a for a in assets if "drf_spectacular_sidecar/swagger-ui-dist/" in a]
        assert any(a.endswith(".js") for a in sidecar) and any(a.endswith(".css") for a in sidecar)
        for href in sidecar:
            assert requests.get(base + href, timeout=10).status_code == 200, href
        schema = requests.get(f"{base}/api/v2/schema/", params={"format": "json"}, timeout=30)
        assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")

        # compose's lb in front: the admin logs in through it (CSRF sees the port in Host), and
        # throttling counts the client nginx saw, whatever X-Forwarded-For it sent.
        superuser_env = {**run_env, "DJANGO_SUPERUSER_PASSWORD": "right-password-" + uuid.uuid4().hex}
        argv = ["python", "manage.py", "createsuperuser", "--noinput", "--username", "boss"]
        run_step([*argv, "--email", "boss@example.com"], cwd=workdir, env=superuser_env)
        lb, lb_port = start_nginx(tmp_path / "lb", port)
        try:
            lb_base = f"http://127.0.0.1:{lb_port}"
            right = superuser_env["DJANGO_SUPERUSER_PASSWORD"]
            wrong = [admin_login(lb_base, "wrong", f"10.0.0.{n}") for n in range(4)]
            assert wrong == [200] * 4  # the form again with an error: not a CSRF 403
            assert admin_login(lb_base, right, "10.0.0.8") == 302
            admin_login(lb_base, "wrong", "10.0.0.9")
            admin_login(lb_base, "wrong", "10.0.0.10")
            assert admin_login(lb_base, right, "10.0.0.11") == 429
        finally:
            stop(lb)

        smoke = subprocess.run(
            [str(ROOT / "scripts" / "smoke"), base, seeded["api_key"]],
            env=BASE_ENV, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "4 validate again ok, 409 coupon_used" in smoke.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    print(f"image replay took {time.monotonic() - started:.0f} s")


def admin_login(base: str, password: str, forwarded_for: str) -> int:
    session = requests.Session()
    assert session.get(f"{base}/admin/login/", timeout=30).status_code == 200
    form = {"username": "boss", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    headers = {"Origin": base, "X-Forwarded-For": forwarded_for}  # the client's claim, left of nginx's
    response = session.post(
        f"{base}/admin/login/", data=form, headers=headers, timeout=30, allow_redirects=False
    )
    return response.status_code


def wait_until_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting its workers
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the CMD did not become ready (exit {server.poll()}):\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


def shlex_split(args: str) -> list[str]:
    if args.startswith("["):
        return json.loads(args)
    return args.split()


def copy_context(source: str, target: Path, ignore: DockerIgnore) -> None:
    """COPY <source> <target>: a folder's contents (``.`` the whole context), or one file."""
    source = source.rstrip("/") or "."
    copied = 0
    for rel in context_files(ROOT, ignore):
        if source == ".":
            dest = target / rel
        elif rel == source:
            dest = target / Path(rel).name if str(target).endswith("/") or target.is_dir() else target
        elif rel.startswith(source + "/"):
            dest = target / rel[len(source) + 1 :]
        else:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest)
        copied += 1
    assert copied, f"COPY {source}: nothing in the build context"
