"""How the compose file, the Dockerfile and nginx fit together, read from the files. What they do when
run is proven by running them: tests/test_image.py (the image), tests/test_edge_errors.py (nginx,
gunicorn), tests/test_ops_services.py (the worker and expiry services and their health checks)."""

import re
import socket
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
    # Replicas found by name through compose's DNS while nginx runs (tests/ha/test_replicas_nginx_*.py).
    assert "resolver 127.0.0.11 valid=5s" in NGINX and "set $zupy_api api:8000;" in NGINX
    assert NGINX.count("proxy_pass http://$zupy_api;") == 3 and not re.search(r"^\s*upstream ", NGINX, re.M)
    # Retries to another replica for idempotent requests only: never a POST nginx already sent.
    assert re.findall(r"^\s*proxy_next_upstream .*$", NGINX, re.M) == [
        "        proxy_next_upstream error timeout http_502 http_503;"
    ]
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


# --- The HA shape: docker-compose.ha.yml, deploy/patroni/, deploy/pgbouncer/ ---------------------------
HA = yaml.safe_load((ROOT / "docker-compose.ha.yml").read_text())
APP_SERVICES = (
    "migrate",
    "api",
    "webhooks",
    "wallet-worker",
    "integration-worker",
    "expire",
    "scheduler",
    "lb",
)


def test_the_ha_file_runs_etcd_two_patroni_nodes_a_pooler_each_and_the_single_files_services():
    assert set(HA["services"]) == {
        "etcd", "db1", "db2", "pgbouncer-db1", "pgbouncer-db2", "redis", *APP_SERVICES,
    }  # fmt: skip
    # The application services are the single-node file's: only where they find the database differs.
    for name in APP_SERVICES:
        ha, single = dict(HA["services"][name]), dict(COMPOSE["services"][name])
        if name == "migrate":
            assert ha.pop("restart") == "on-failure", "until a leader is elected no node takes writes"
            assert set(ha.pop("depends_on")) == {"db1", "db2", "pgbouncer-db1", "pgbouncer-db2"}
            single.pop("restart"), single.pop("depends_on")
        ha_env, single_env = dict(ha.pop("environment", {})), dict(single.pop("environment", {}))
        if name == "lb":
            assert (ha, ha_env) == (single, single_env)
            continue
        assert ha_env.pop("DB_POOLER_MODE") == "transaction"
        url = ha_env.pop("DATABASE_URL")
        assert url.endswith("@pgbouncer-db1:6432,pgbouncer-db2:6432/zupy?target_session_attrs=read-write")
        single_env.pop("DATABASE_URL")
        assert (ha, ha_env) == (single, single_env), name
    assert f'"{"DB_POOLER_MODE"}"' in SETTINGS
    for node in ("db1", "db2"):
        service = HA["services"][node]
        assert service["image"] == "zupy-patroni:latest"
        assert service["environment"]["PATRONI_NAME"] == node
        assert service["environment"]["PATRONI_POSTGRESQL_CONNECT_ADDRESS"] == f"{node}:5432"
        assert "?" in service["environment"]["PATRONI_SUPERUSER_PASSWORD"], "no default password"
        assert service["healthcheck"]["test"]
        bouncer = HA["services"][f"pgbouncer-{node}"]
        assert bouncer["command"] == ["pgbouncer", f"/etc/pgbouncer/{node}.ini"]
        ini = (ROOT / "deploy" / "pgbouncer" / f"{node}.ini").read_text()
        assert f"host={node} port=5432" in ini and "%include /etc/pgbouncer/common.ini" in ini
    assert HA["services"]["db1"]["build"] == {"context": "./deploy", "dockerfile": "patroni/Dockerfile"}
    common = (ROOT / "deploy" / "pgbouncer" / "common.ini").read_text()
    assert "pool_mode = transaction" in common


def test_the_patroni_image_copies_files_that_exist_and_runs_as_postgres():
    dockerfile = (ROOT / "deploy" / "patroni" / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in copied.split():
            assert (ROOT / "deploy" / path).exists(), path
    assert re.search(r"^USER postgres$", dockerfile, re.M)
    assert "postgresql-15 patroni python3-etcd pgbouncer" in dockerfile


def test_the_patroni_template_passes_patronis_own_validation(tmp_path):
    """deploy/patroni/patroni.yml with the drill's addresses (the containers' names do not resolve
    here), checked by Patroni 3.0's --validate-config (scripts/ensure-patroni installs it)."""
    import subprocess

    from tests.ha.patroni import PatroniCluster

    cluster = PatroniCluster()
    try:
        node = cluster.nodes[0]
        rendered = cluster.node_config(node)
        # The validator refuses 127.0.0.1 as an address other nodes connect to (a container's own
        # name is what compose gives); any other loopback address stands in for it.
        rendered["restapi"]["connect_address"] = f"127.0.0.2:{node.api_port}"
        rendered["postgresql"]["connect_address"] = f"127.0.0.2:{node.pg_port}"
        with socket.socket() as etcd:  # it checks that etcd accepts connections
            etcd.bind(("127.0.0.1", 0))
            etcd.listen()
            rendered["etcd3"] = {"hosts": [f"127.0.0.1:{etcd.getsockname()[1]}"]}
            config = tmp_path / "patroni.yml"
            config.write_text(yaml.safe_dump(rendered))
            run = subprocess.run(
                [cluster.patroni, "--validate-config", str(config)], capture_output=True, text=True
            )
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        cluster.destroy()
    template = yaml.safe_load((ROOT / "deploy" / "patroni" / "patroni.yml").read_text())
    dcs = template["bootstrap"]["dcs"]
    assert dcs["ttl"] >= dcs["loop_wait"] + 2 * dcs["retry_timeout"]
    assert dcs["postgresql"]["use_pg_rewind"] and template["postgresql"]["basebackup"] == [
        {"checkpoint": "fast"}
    ]
    assert "password" not in str(template["postgresql"]["authentication"]), (
        "passwords come from the environment"
    )


def test_the_load_balancer_config_passes_nginx_t_as_compose_mounts_it(tmp_path):
    """As it is (only nginx's own files moved): the replicas' name is resolved per request, so nginx
    starts before any api replica exists; an upstream block's `server api:8000` would fail here."""
    import subprocess

    from tests.e2e.nginx import NGINX as nginx

    assert nginx is not None, "nginx is not installed: scripts/ensure-nginx"
    paths = "".join(
        f"    {name}_temp_path {tmp_path}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX.replace("http {\n", f"http {{\n    access_log off;\n{paths}", 1))
    globals_ = f"pid {tmp_path}/pid; error_log {tmp_path}/error.log;"
    run = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-g", globals_], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
