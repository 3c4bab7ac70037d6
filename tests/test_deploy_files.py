"""How the compose file, the Dockerfile and nginx fit together, read from the files. What they do when
run is proven by running them: tests/test_image.py (the image), tests/test_edge_errors.py (nginx,
gunicorn), tests/test_ops_services.py (the worker and expiry services and their health checks)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SETTINGS = (ROOT / "zupy" / "settings.py").read_text()
GUNICORN = (ROOT / "gunicorn.conf.py").read_text()
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()


def test_compose_runs_postgres_redis_a_one_shot_migration_and_the_api():
    services = COMPOSE["services"]
    assert set(services) == {
        "db",
        "redis",
        "migrate",
        "api",
        "lb",
        "webhooks",
        "wallet-worker",
        "integration-worker",
        "opendelivery-worker",
        "expire",
        "scheduler",
    }
    for job in (
        "webhooks",
        "wallet-worker",
        "integration-worker",
        "opendelivery-worker",
        "expire",
        "scheduler",
    ):
        assert services[job]["image"] == services["api"]["image"]
        assert services[job]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["webhooks"]["command"] == ["python", "manage.py", "webhook_worker"]
    assert services["wallet-worker"]["command"] == ["python", "manage.py", "wallet_worker"]
    assert services["integration-worker"]["command"] == ["python", "manage.py", "integration_worker"]
    assert services["opendelivery-worker"]["command"] == ["python", "manage.py", "opendelivery_worker"]
    assert services["api"]["environment"]["HTTPS_ONLY"] == "${HTTPS_ONLY:-false}", "plain HTTP by default"
    assert services["expire"]["command"][:3] == ["python", "manage.py", "expire_coupons"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["build"] == "."
    assert services["api"]["image"] == services["migrate"]["image"]


def test_every_long_running_service_has_a_health_check_and_data_is_on_a_named_volume():
    for name in (
        "db",
        "redis",
        "api",
        "lb",
        "webhooks",
        "wallet-worker",
        "integration-worker",
        "opendelivery-worker",
        "expire",
        "scheduler",
    ):
        assert COMPOSE["services"][name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(COMPOSE["services"]["api"]["healthcheck"]["test"])
    assert "pgdata" in COMPOSE["volumes"]
    assert COMPOSE["services"]["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]


def test_api_environment_names_settings_that_exist():
    env = COMPOSE["services"]["api"]["environment"]
    assert env["DEBUG"] == "false"
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["CACHE_URL"].startswith("redis://")
    assert "?" in env["SECRET_KEY"], "compose must refuse to start without a SECRET_KEY"
    for name in env:
        if name in {"WEB_CONCURRENCY", "GUNICORN_THREADS", "FORWARDED_ALLOW_IPS"}:
            assert f'"{name}"' in GUNICORN
        else:
            assert f'"{name}"' in SETTINGS, f"settings.py does not read {name}"


def test_dockerfile_serves_with_gunicorn_as_a_non_root_user_with_static_files_built():
    assert re.search(r"^FROM python:3\.1[1-9]", DOCKERFILE, re.M)
    assert "collectstatic" in DOCKERFILE
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert '"gunicorn", "zupy.wsgi:application"' in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE
    for copied in re.findall(r"^COPY (\S+)", DOCKERFILE, re.M):
        assert (ROOT / copied).exists(), copied


def test_the_api_scales_behind_the_load_balancer():
    api, lb = COMPOSE["services"]["api"], COMPOSE["services"]["lb"]
    assert "ports" not in api, "a fixed host port would stop `--scale api=3`"
    assert api["expose"] == ["8000"]
    assert lb["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert lb["depends_on"]["api"]["condition"] == "service_healthy"
    assert "server api:8000;" in NGINX and "proxy_pass http://api;" in NGINX
    assert "location = /metrics" in NGINX


def test_production_settings_pass_check_deploy(tmp_path):
    """``manage.py check --deploy`` is clean with the compose file's environment plus what
    docs/deploy.md says production adds: HTTPS_ONLY behind a TLS terminator, real OTP and e-mail senders."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    for name, value in COMPOSE["services"]["api"]["environment"].items():
        env[name] = re.sub(r"\$\{(\w+):?[-?]([^}]*)\}", lambda m: m.group(2), str(value))
    env.update(
        SECRET_KEY="k" + "x8Qz!vR2#mP7@wL4$tN9&bJ6^cF3*hD1(gS5)yK0-aE" * 2,
        DATABASE_URL=f"sqlite:///{tmp_path}/deploy.sqlite3",
        CACHE_URL="locmemcache://",
        OTP_GATEWAY_URL="https://gateway.example.com/send",
        EMAIL_URL="smtp+tls://user:password@smtp.example.com:587",
        HTTPS_ONLY="true",
        DJANGO_SETTINGS_MODULE="zupy.settings",
    )
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout


def dotenv(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def test_env_example_names_only_what_compose_reads_and_everything_it_requires():
    example = dotenv(ROOT / ".env.example")
    text = (ROOT / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{(\w+)", text))
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert set(example) <= substituted, (
        f".env.example sets what compose ignores: {set(example) - substituted}"
    )
    assert required <= set(example) | {"SECRET_KEY"}  # the docs' one-line command appends it
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_cp_env_example_then_a_secret_gives_settings_that_start(tmp_path):
    """The first steps of docs/deploy.md: `cp .env.example .env`, a SECRET_KEY, `docker compose up`.
    Compose fills ${VAR:-default} from .env; the services then run Django's checks (migrate does)."""
    import os
    import subprocess
    import sys

    example = {**dotenv(ROOT / ".env.example"), "SECRET_KEY": "s" * 50}

    def resolve(match: re.Match[str]) -> str:
        return example.get(match.group(1)) or match.group(2)

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    for name, value in COMPOSE["services"]["api"]["environment"].items():
        env[name] = re.sub(r"\$\{(\w+):?[-?]([^}]*)\}", resolve, str(value))
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        CACHE_URL="locmemcache://",
        DJANGO_SETTINGS_MODULE="zupy.settings",
    )
    assert env["DEBUG"] == "false" and env["HTTPS_ONLY"] == "false"
    run = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
