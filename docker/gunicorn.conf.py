"""gunicorn settings for the web role, read from the environment.

    gunicorn -c docker/gunicorn.conf.py servicedesk.wsgi:application

| variable | default | |
| --- | --- | --- |
| GUNICORN_BIND | 0.0.0.0:8000 | address to listen on |
| WEB_CONCURRENCY | 2 x CPUs + 1 | worker processes |

An empty variable means unset, as everywhere in the project. gunicorn itself reads
WEB_CONCURRENCY before this file and fails on an empty one: start it through
`docker/entrypoint.sh web`, which drops empty variables first.
| GUNICORN_THREADS | 1 | threads per worker (more than 1 uses the gthread worker) |
| GUNICORN_TIMEOUT | 120 | seconds a request may take (a 48 MiB webhook batch included) |
| GUNICORN_MAX_REQUESTS | 1000 | requests before a worker is replaced (0: never) |
| FORWARDED_ALLOW_IPS | 127.0.0.1,::1 | proxies (addresses, networks) trusted for the scheme |
| PROMETHEUS_MULTIPROC_DIR | unset | shared directory for the workers' metrics |
"""

import multiprocessing
import os

from servicedesk.logging import build_logging_config


def _str(name: str, default: str) -> str:
    """The variable, or `default` when it is unset or empty (as in a copied .env.sample)."""
    return os.environ.get(name, "").strip() or default


def _int(name: str, default: int) -> int:
    value = _str(name, "")
    return int(value) if value else default


def _bool(name: str, default: bool) -> bool:
    value = _str(name, "").lower()
    return value in ("1", "true", "yes", "on") if value else default


# Inside a container the port is reached only through the compose network.
bind = [_str("GUNICORN_BIND", "0.0.0.0:8000")]
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never grows; the jitter keeps them from
# all restarting at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max(max_requests // 10, 0))
# Import the app once in the master, then fork: faster start, shared memory.
preload_app = _bool("GUNICORN_PRELOAD", True)
# Request bodies are buffered by nginx; gunicorn's own limits still guard direct access.
limit_request_line = 8190
limit_request_fields = 100

# Only nginx may say the client used HTTPS: gunicorn sets the request's scheme from
# X-Forwarded-Proto for peers in this list and ignores the header from anyone else.
forwarded_allow_ips = _str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Logs: the same structured setup as Django's, on stderr: JSON under the production
# settings (wsgi.py's default), text under the others, unless LOG_FORMAT says.
_production = _str("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production").endswith(
    ".production"
)
_log_format = _str("LOG_FORMAT", "json" if _production else "text").lower()
accesslog = "-"
errorlog = "-"
loglevel = _str("LOG_LEVEL", "info").lower()
logconfig_dict = build_logging_config(json_format=_log_format == "json", level=loglevel.upper())
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
# No control socket (gunicornc is not used): it would live in $HOME, which the service
# user cannot write, and be shared by every gunicorn of that user.
control_socket_disable = True
# Every process's temporary files in memory: a slow disk must not stall the heartbeat.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared metrics directory."""
    if _str("PROMETHEUS_MULTIPROC_DIR", ""):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
