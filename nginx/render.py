"""Render nginx/servicedesk.conf.template for a host without Docker (and for the tests).

    python nginx/render.py --upstream 127.0.0.1:8000 --listen 80 \\
        --static-root /srv/servicedesk/static > /etc/nginx/conf.d/servicedesk.conf

With --standalone it writes a whole nginx.conf whose pid file, logs and temporary files
live under --prefix, so an unprivileged nginx can run it with `nginx -c <file>`.
Only the template's own ${...} placeholders are replaced, as the official image's
envsubst step does; nginx's $variables are left alone.
"""

import argparse
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "servicedesk.conf.template"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
DEFAULTS = {
    "SERVICEDESK_UPSTREAM": "127.0.0.1:8000",
    "NGINX_RESOLVER": "127.0.0.1",
    "NGINX_LISTEN": "80",
    "NGINX_SERVER_NAME": "_",
    "NGINX_STATIC_ROOT": "/srv/servicedesk/static",
    "NGINX_ACCESS_LOG": "/var/log/nginx/servicedesk.access.log",
}


def render(values: dict[str, str], template: str | None = None) -> str:
    """The template with every ${NAME} replaced; a placeholder without a value is an error."""
    text = TEMPLATE.read_text() if template is None else template
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def standalone(server_config: str, prefix: Path, *, user: str | None = None) -> str:
    """A complete nginx.conf around `server_config`, with all state under `prefix`."""
    mime_types = "/etc/nginx/mime.types"
    user_line = f"user {user};\n" if user else ""
    return f"""{user_line}worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;

events {{
    worker_connections 512;
}}

http {{
    include {mime_types};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

{server_config}
}}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", help="gunicorn address (SERVICEDESK_UPSTREAM)")
    parser.add_argument("--listen", help="nginx listen address (NGINX_LISTEN)")
    parser.add_argument("--server-name", help="server_name (NGINX_SERVER_NAME)")
    parser.add_argument("--static-root", help="collectstatic output (NGINX_STATIC_ROOT)")
    parser.add_argument("--resolver", help="DNS resolver (NGINX_RESOLVER)")
    parser.add_argument("--access-log", help="access log path (NGINX_ACCESS_LOG)")
    parser.add_argument("--standalone", action="store_true", help="write a whole nginx.conf")
    parser.add_argument("--prefix", type=Path, help="state directory for --standalone")
    parser.add_argument("--user", help="worker user for --standalone when run as root")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default stdout)")
    args = parser.parse_args(argv)

    values = {name: os.environ.get(name, default) for name, default in DEFAULTS.items()}
    for option, name in [
        ("upstream", "SERVICEDESK_UPSTREAM"),
        ("listen", "NGINX_LISTEN"),
        ("server_name", "NGINX_SERVER_NAME"),
        ("static_root", "NGINX_STATIC_ROOT"),
        ("resolver", "NGINX_RESOLVER"),
        ("access_log", "NGINX_ACCESS_LOG"),
    ]:
        if getattr(args, option):
            values[name] = getattr(args, option)
    config = render(values)
    if args.standalone:
        if args.prefix is None:
            parser.error("--standalone needs --prefix")
        if not args.access_log and "NGINX_ACCESS_LOG" not in os.environ:
            config = render({**values, "NGINX_ACCESS_LOG": str(args.prefix / "access.log")})
        config = standalone(config, args.prefix.resolve(), user=args.user)
    if args.output:
        args.output.write_text(config)
    else:
        sys.stdout.write(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
