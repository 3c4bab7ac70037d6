"""A newcomer's first hour, run for real: ``scripts/serve`` first with a Python that is too old (over
the broken ``.venv`` such a try used to leave), then with a good one into a fresh venv; the ids it
prints driving docs/api.md's curl examples; an admin login made with ``scripts/manage``; restarts that
keep the demo key; and ``scripts/smoke`` with a root-format key, on old interpreters and against every
OTP preset. One server, started once, serves the whole module.

The good run installs the project into a new venv, so its pip reads the package index configured for
the machine (as ``scripts/test``'s own install does); every request the tests make stays on loopback.
"""

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.servers import ROOT, free_port, stop

pytestmark = pytest.mark.e2e

API_DOC = ROOT / "docs" / "api.md"
OLD_VERSION = "3.9.18"


def _fake_old_python(directory: Path) -> Path:
    """A ``python3`` that reports itself as 3.9: the real interpreter with ``sys.version_info``
    replaced at start-up, so any version check it runs sees an old Python."""
    site = directory / "site"
    site.mkdir(parents=True)
    major, minor, micro = (int(part) for part in OLD_VERSION.split("."))
    (site / "sitecustomize.py").write_text(
        f"import sys\nsys.version_info = ({major}, {minor}, {micro}, 'final', 0)\n"
        f"sys.version = '{OLD_VERSION} (a stand-in for an old interpreter)'\n"
    )
    shim = directory / "python3"
    shim.write_text(
        f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(site))} exec {shlex.quote(sys.executable)} "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def _interpreters() -> list[Any]:
    """This Python and every Python 3.6 to 3.10 found on this machine (pyenv's too): the interpreters
    ``scripts/smoke`` promises to run on."""
    found = {sys.version_info[:2]: sys.executable}
    candidates = [Path(f"/usr/bin/python3.{minor}") for minor in range(6, 11)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += sorted(pyenv.glob("3.*/bin/python3"))
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [str(candidate), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        parts = tuple(int(p) for p in version.stdout.split()) if version.returncode == 0 else ()
        if len(parts) == 2 and (3, 6) <= parts < (3, 11):
            found.setdefault(parts, str(candidate))
    return [pytest.param(found[v], id=f"python{v[0]}.{v[1]}") for v in sorted(found)]


@dataclass
class Newcomer:
    """``scripts/serve`` in a fresh venv and data directory, as a newcomer's clone would have them."""

    tmp: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def venv(self) -> Path:
        return self.tmp / "venv"

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """A newcomer's shell: no test settings, no DEBUG, no SECRET_KEY."""
        drop = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "VIRTUAL_ENV"}
        env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
        env.update(PORT=str(self.port), VENV=str(self.venv), ZUPY_DATA_DIR=str(self.data_dir), **extra)
        return env

    def start(self, python: str = sys.executable) -> str:
        """Start scripts/serve and wait until it answers; returns everything it printed before that."""
        assert self.process is None
        self.log_path = self.tmp / f"serve-{time.monotonic_ns()}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [str(ROOT / "scripts" / "serve")], cwd=self.tmp, env=self.env(PYTHON=python),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 600  # the first start installs the project into a new venv
        while True:
            text = self.log_path.read_text()
            if "Admin login:" in text:
                try:
                    if requests.get(f"{self.origin}/healthz", timeout=2).status_code == 200:
                        return text
                except requests.RequestException:  # not listening yet
                    pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"scripts/serve did not come up:\n{text}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def printed(self, name: str) -> str:
        assert self.log_path is not None
        (value,) = re.findall(rf"^{name}=(\S+)", self.log_path.read_text(), re.MULTILINE)
        return value

    def export_line(self) -> str:
        assert self.log_path is not None
        (line,) = [
            ln.strip() for ln in self.log_path.read_text().splitlines() if ln.strip().startswith("export ")
        ]
        return line

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "scripts" / "manage"), *args], cwd=self.tmp, env=self.env(**env),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def active_demo_keys(self) -> list[str]:
        """Prefixes of the demo company's active keys, read from the SQLite file itself."""
        with sqlite3.connect(self.data_dir / "zupy.sqlite3") as db:
            rows = db.execute(
                "SELECT k.prefix FROM zupy_apikey k JOIN zupy_company c ON c.id = k.company_id"
                " WHERE c.name = 'Demo Restaurant (trusted)' AND k.revoked_at IS NULL"
            ).fetchall()
        return sorted(prefix for (prefix,) in rows)


@dataclass
class FirstHour:
    server: Newcomer
    too_old: subprocess.CompletedProcess[str]
    first_start: str


@pytest.fixture(scope="module")
def first_hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstHour]:
    tmp = tmp_path_factory.mktemp("newcomer")
    server = Newcomer(tmp)
    old_python = _fake_old_python(tmp / "old-python")
    # What the script used to leave after a try with Python 3.9: a venv of that Python, nothing installed.
    (server.venv / "bin").mkdir(parents=True)
    (server.venv / "bin" / "python").symlink_to(old_python)
    (server.venv / "pyvenv.cfg").write_text(f"home = {old_python.parent}\nversion = {OLD_VERSION}\n")

    too_old = subprocess.run(
        [str(ROOT / "scripts" / "serve")], cwd=tmp, env=server.env(PYTHON=str(old_python)),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        first_start = server.start()
        yield FirstHour(server, too_old, first_start)
    finally:
        server.stop()


def test_too_old_python_gets_a_clear_message_then_a_good_one_rebuilds_and_serves(
    first_hour: FirstHour,
) -> None:
    refused = first_hour.too_old.stdout + first_hour.too_old.stderr
    assert first_hour.too_old.returncode == 2, refused
    assert f"scripts/serve: needs Python 3.11 or newer; {first_hour.server.tmp}" in refused
    assert f"is Python {OLD_VERSION}." in refused
    assert "PYTHON=python3.11 scripts/serve" in refused
    assert "Traceback" not in refused and len(refused.splitlines()) == 2, refused

    started = first_hour.first_start
    steps = [line for line in started.splitlines() if line.startswith("scripts/serve: ")]
    assert steps[0].startswith(f"scripts/serve: rebuilding {first_hour.server.venv} with "), started
    assert "older than 3.11" in steps[0]
    assert steps[1].startswith("scripts/serve: installing the project into"), started
    assert "Successfully installed" in started  # pip's own progress is shown
    assert steps[2] == "scripts/serve: installed"
    assert steps[3].startswith("scripts/serve: migrating"), started
    venv_python = first_hour.server.venv / "bin" / "python"
    version = subprocess.run(
        [str(venv_python), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert version.stdout.strip() == "True"
    key = first_hour.server.printed("API_KEY")
    rewards = requests.get(
        f"{first_hour.server.origin}/api/v2/rewards/", headers={"X-API-Key": key}, timeout=30
    )
    assert rewards.status_code == 200 and rewards.json()["data"]


def _sh(export: str, command: str) -> Any:
    run = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{export}\n{command}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, (command, run.stderr)
    return json.loads(run.stdout)


def _doc_block(heading: str) -> list[str]:
    """The curl commands of the first sh block under ``heading`` in docs/api.md, continuations joined
    (bash reads their trailing comments as comments)."""
    text = API_DOC.read_text()
    block = text[text.index(heading) :].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.startswith("curl ")]


def test_the_printed_export_line_runs_the_api_guides_examples(first_hour: FirstHour) -> None:
    export = first_hour.server.export_line()
    four_steps = _doc_block("## The four steps, with curl")
    assert len(four_steps) == 4, four_steps
    catalog, redeem, listing, validate = four_steps

    assert [item["id"] for item in _sh(export, catalog)["data"]]
    coupon = _sh(export, redeem)["data"]
    assert re.fullmatch(r"CZ-[2-9A-HJKMNP-Z]{8}", coupon["coupon_code"])
    assert coupon["coupon_code"] in [c["coupon_code"] for c in _sh(export, listing)["data"]]
    assert "CZ-ABCD2345" in validate  # the guide's placeholder: the code step 2 printed goes there
    used = _sh(export, validate.replace("CZ-ABCD2345", coupon["coupon_code"]))["data"]
    assert used["validated_at"]

    company_examples = _doc_block("## The company and its loyalty program")
    assert len(company_examples) == 4, company_examples
    answers = [_sh(export, command)["data"] for command in company_examples]
    company_id, program_id = first_hour.server.printed("COMPANY_ID"), first_hour.server.printed("PROGRAM_ID")
    assert answers[0][0]["id"] == answers[1]["id"] == company_id
    assert answers[2][0]["id"] == answers[3]["id"] == program_id


def test_local_commands_run_as_the_docs_write_them_and_give_an_admin_login(first_hour: FirstHour) -> None:
    server = first_hour.server
    bare = subprocess.run(
        [str(server.venv / "bin" / "python"), "manage.py", "createsuperuser"], cwd=ROOT, env=server.env(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bare.returncode == 1 and "Traceback" not in bare.stderr, bare.stderr
    assert "SECRET_KEY is required when DEBUG is off" in bare.stderr
    assert "scripts/manage createsuperuser" in bare.stderr

    password = os.urandom(12).hex()
    made = server.manage(
        "createsuperuser", "--no-input", "--username", "admin", "--email", "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    session = requests.Session()
    login = session.get(f"{server.origin}/admin/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert login.status_code == 200 and token
    answer = session.post(
        f"{server.origin}/admin/login/?next=/admin/",
        data={"username": "admin", "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{server.origin}/admin/login/"}, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200 and answer.url == f"{server.origin}/admin/", answer.url
    assert "Site administration" in answer.text


def _smoke(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(ROOT / "scripts" / "smoke"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def root_key(first_hour: FirstHour) -> str:
    server = first_hour.server
    made = server.manage("create_api_key", server.printed("COMPANY_ID"), "--format", "root")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["api_key"])


@pytest.mark.parametrize("python", _interpreters())
def test_smoke_with_a_root_key_runs_every_step(first_hour: FirstHour, root_key: str, python: str) -> None:
    run = _smoke(python, first_hour.server.origin, root_key)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "smoke: 4 validate again ok, 409 coupon_used" in run.stdout
    assert run.stdout.splitlines()[-1] == "smoke: all steps passed"


@pytest.mark.parametrize(
    ("preset", "skipped"),
    [
        ("strict", "enrol, redeem, list, validate: the company requires OTP for enrolment"),
        ("relaxed", "redeem, list, validate: the company requires OTP for redemption"),
    ],
)
def test_smoke_without_a_code_skips_what_the_otp_policy_guards_and_says_why(
    first_hour: FirstHour, preset: str, skipped: str
) -> None:
    seeded = first_hour.server.manage("seed_demo", "--otp-policy", preset, "--json")
    assert seeded.returncode == 0, seeded.stderr

    run = _smoke(sys.executable, first_hour.server.origin, json.loads(seeded.stdout)["api_key"])

    assert run.returncode == 0, run.stdout + run.stderr
    assert f"smoke: skipped {skipped} (rerun with --otp PHONE_OR_EMAIL" in run.stdout
    assert run.stdout.splitlines()[-1] == "smoke: the steps that ran passed"


def test_smoke_on_a_strict_company_runs_every_step_with_a_typed_code(first_hour: FirstHour) -> None:
    server = first_hour.server
    made = server.manage(
        "create_company", "Cantina Estrita", "--email", "ola@cantina.example.com"
    )  # strict, the default for a real restaurant
    company_id = json.loads(made.stdout)["company_id"]
    key = json.loads(server.manage("create_api_key", company_id, "--format", "root").stdout)["api_key"]
    assert server.manage(
        "shell", "-c",
        "from rewards.models import Reward; "
        f"Reward.objects.create(company_id={company_id!r}, name='Tea', points_required=50, validity_days=9)",
    ).returncode == 0  # fmt: skip
    phone = f"+55119{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}"
    assert server.log_path is not None
    sent = rf"OTP for \+55\*+{phone[-4:]}: (\d{{6}})"

    smoke = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "smoke"), server.origin, key, "--otp", phone],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert smoke.stdin is not None and smoke.stdout is not None
    lines = [smoke.stdout.readline(), smoke.stdout.readline()]
    assert lines[1] == f"smoke: a code was sent to {phone}; type it and press Enter:\n", lines
    (code,) = re.findall(sent, server.log_path.read_text())  # the console sender's line in serve's output
    smoke.stdin.write(code + "\n")
    smoke.stdin.close()
    rest = smoke.stdout.read()
    assert smoke.wait(timeout=60) == 0, "".join(lines) + rest
    assert "smoke: otp ok, customer " in rest and "(new)" in rest
    assert "smoke: 4 validate again ok, 409 coupon_used" in rest
    assert rest.splitlines()[-1] == "smoke: all steps passed"


def test_restarts_reuse_the_demo_key_until_its_file_is_removed(first_hour: FirstHour) -> None:
    server = first_hour.server
    key, active = server.printed("API_KEY"), server.active_demo_keys()
    assert key[:12] in active

    server.stop()
    again = server.start()
    assert server.printed("API_KEY") == key
    assert f"API_KEY={key}  (the same as last start; kept in {server.data_dir / 'demo-api-key'})" in again
    assert server.active_demo_keys() == active

    server.stop()
    (server.data_dir / "demo-api-key").unlink()
    server.start()
    fresh = server.printed("API_KEY")
    assert fresh != key
    assert server.active_demo_keys() == sorted([*(p for p in active if p != key[:12]), fresh[:12]])
    url = f"{server.origin}/api/v2/rewards/"
    assert requests.get(url, headers={"X-API-Key": key}, timeout=30).status_code == 401
    assert requests.get(url, headers={"X-API-Key": fresh}, timeout=30).status_code == 200
