"""Real processes on loopback for system tests: gunicorn, Celery, Redis, nginx, moto's S3.

Every helper is generic: it takes an environment dict, a working directory and a
directory for log files, picks free ports at runtime, and a `ProcessGroup` tears down
every process group it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testing.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


# Ports
# ------------------------------------------------------------------------------
def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_for_port_closed(port: int, host: str = LOOPBACK, *, timeout: float = 15) -> None:
    """Block until nothing accepts connections on host:port any more."""
    wait_until(lambda: not port_is_open(port, host), timeout=timeout, message=f"{port} closed")


# Processes
# ------------------------------------------------------------------------------
@dataclass
class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, *, ready: Callable[[], Any] | None = None, timeout: float = 30) -> None:
        """Start the process (again) and wait for its port or `ready` predicate."""
        if self.is_running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {' '.join(self.args)}\n".encode())
            log.flush()
            popen = self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own process group: stop() reaches gunicorn's and celery's children too.
                start_new_session=True,
            )
        port = self.port
        check = ready or ((lambda: port_is_open(port)) if port else None)
        if check is None:
            return

        def started() -> bool:
            if popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {popen.returncode}:\n{self.log_tail()}"
                )
            return bool(check())

        try:
            wait_until(started, timeout=timeout, interval=0.1, message=f"{self.name} to start")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None

    @property
    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, *, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group, wait, and kill what is left."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        # Children that outlived the leader (e.g. forked workers) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.port:
            with contextlib.suppress(TimeoutError):
                wait_for_port_closed(self.port)

    def children(self) -> list[int]:
        """The ids of the processes this one started (e.g. a prefork pool's workers)."""
        if self.popen is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.popen.pid:
                    found.append(int(stat.parent.name))
        return found

    def restart(self, **kwargs: Any) -> None:
        self.stop()
        self.start(**kwargs)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return f"--- {self.name} log ({self.log_path}):\n" + "\n".join(
            self.log_text().splitlines()[-lines:]
        )


class ProcessGroup:
    """Processes started for one test, stopped in reverse order by `stop_all`."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()

    def logs(self) -> str:
        return "\n".join(process.log_tail() for process in self.processes)


# The service's environment and commands
# ------------------------------------------------------------------------------
def service_env(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """An environment for the service's processes: this one's, without a `.env`, plus overrides."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            # Development unless the caller asks for production.
            "DJANGO_SETTINGS_MODULE": "servicedesk.settings.local",
            "READ_DOT_ENV": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def production_env(**overrides: str) -> dict[str, str]:
    """`service_env` with production settings (DEBUG off, a real SECRET_KEY) on plain HTTP
    at 127.0.0.1: the TLS switches off, exactly as an operator without TLS would set them."""
    settings = {
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": LOOPBACK,
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
    }
    env = service_env()
    env.update({**settings, **overrides})
    return env


def superuser_env(username: str, password: str) -> dict[str, str]:
    """The variables `bootstrap_admin` makes its superuser from."""
    return {
        "DJANGO_SUPERUSER_USERNAME": username,
        "DJANGO_SUPERUSER_PASSWORD": password,
        "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
    }


def run_python(
    *args: str, env: Mapping[str, str], cwd: Path = REPO_ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with `args` to completion, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(*args: str, env: Mapping[str, str], cwd: Path = REPO_ROOT, timeout: float = 180) -> str:
    """Run `manage.py <args>` to completion and return its output; raise on failure."""
    result = run_python("manage.py", *args, env=env, cwd=cwd, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def gunicorn(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    port: int | None = None,
    host: str = LOOPBACK,
    workers: int = 2,
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A gunicorn process serving the WSGI app (not started yet)."""
    port = port or free_port(host)
    args = [
        str(VENV_BIN / "gunicorn"),
        "servicedesk.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        *extra_args,
    ]
    return ManagedProcess("gunicorn", args, dict(env), cwd, log_dir / "gunicorn.log", port)


def celery_command(subcommand: str, *args: str) -> list[str]:
    """`celery -A servicedesk <subcommand> --loglevel INFO <args>` from this virtualenv."""
    return [str(VENV_BIN / "celery"), "-A", "servicedesk", subcommand, "--loglevel", "INFO", *args]


def celery_worker(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    concurrency: int = 1,
    name: str = "worker",
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A `celery -A servicedesk worker` process (not started yet); ready once it logs 'ready'."""
    args = celery_command(
        "worker",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--hostname",
        f"{name}-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        *extra_args,
    )
    return ManagedProcess(name, args, dict(env), cwd, log_dir / f"{name}.log")


def start_celery_worker(process: ManagedProcess, *, timeout: float = 60) -> None:
    """Start a worker made by `celery_worker` and wait until it consumes."""
    process.start(ready=lambda: " ready." in process.log_text(), timeout=timeout)


def celery_beat(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A `celery -A servicedesk beat` process with its schedule file under `log_dir`."""
    args = celery_command(
        "beat",
        "--schedule",
        str(log_dir / "celerybeat-schedule"),
        "--pidfile",
        str(log_dir / "celerybeat.pid"),
        *extra_args,
    )
    return ManagedProcess("beat", args, dict(env), cwd, log_dir / "beat.log")


# Other servers
# ------------------------------------------------------------------------------
def redis_server(
    *, log_dir: Path, port: int | None = None, persistent: bool = False
) -> ManagedProcess:
    """A private redis-server on a free loopback port (not started yet); data under `log_dir`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    data_dir = log_dir / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--daemonize",
        "no",
    ]
    return ManagedProcess(
        f"redis-{port}", args, os.environ.copy(), data_dir, log_dir / "redis.log", port
    )


def moto_server(*, log_dir: Path, port: int | None = None) -> ManagedProcess:
    """A real S3 server (moto's) on a free loopback port (not started yet)."""
    port = port or free_port()
    args = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(log_dir)}
    return ManagedProcess("moto", args, env, log_dir, log_dir / "moto.log", port)


def s3_client(endpoint_url: str) -> Any:
    """A boto3 client of a test S3 server (any credentials do)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack), or None."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return binary if Path(binary).exists() else None


def check_nginx_config(config: Path) -> None:
    """`nginx -t` on a config whose prefix is its folder; fail with nginx's complaint."""
    checked = subprocess.run(
        [nginx_binary() or "nginx", "-t", "-c", str(config), "-p", str(config.parent)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def nginx(tmp: Path, *, upstream_port: int, static_root: Path) -> ManagedProcess:
    """nginx on the config `nginx/render.py` renders for an upstream on loopback, checked
    with `nginx -t` (not started yet)."""
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    config = prefix / "nginx.conf"
    render = [
        sys.executable,
        str(REPO_ROOT / "nginx" / "render.py"),
        "--upstream",
        f"{LOOPBACK}:{upstream_port}",
        "--listen",
        f"{LOOPBACK}:{port}",
        "--server-name",
        "127.0.0.1 localhost",
        "--static-root",
        str(static_root),
        "--standalone",
        "--prefix",
        str(prefix),
        "--output",
        str(config),
    ]
    if os.geteuid() == 0:
        # Workers as root read the collected files in pytest's private temp directory.
        render += ["--user", "root"]
    subprocess.run(render, check=True, timeout=30)
    check_nginx_config(config)
    args = [nginx_binary() or "nginx", "-c", str(config), "-p", str(prefix), "-g", "daemon off;"]
    return ManagedProcess("nginx", args, dict(os.environ), prefix, tmp / "nginx.log", port)
