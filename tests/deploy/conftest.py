import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.deploy.stack import (
    ENV_EXAMPLE,
    INSTALL_PREFIX,
    REDIS_URL,
    ROOT,
    UNITS,
    Nginx,
    Service,
    free_port,
    manage,
    manage_command,
    new_secret,
    read_env_file,
    read_unit,
    render_site,
    self_signed_certificate,
    tls_context,
    unit_command,
    unit_environment,
    websocket_tls_context,
    write_env_file,
)
from tests.postgres import throwaway_database

GUNICORN_WORKERS = 2
DAPHNES = 2


@dataclass
class Stack:
    https: str  # through nginx, TLS
    http: str  # through nginx, plain HTTP (health and the redirect)
    tls: ssl.SSLContext
    websocket_tls: ssl.SSLContext  # for websockets' threaded client: see its maker
    env_file: Path
    env: dict[str, str]
    static_root: Path
    gunicorn: Service
    daphnes: dict[int, Service]  # port → instance
    nginx: Nginx
    admin_password: str
    token: str  # a bearer token of the admin account

    def daphne_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def log_tails(self) -> str:
        processes = [self.gunicorn, *self.daphnes.values(), self.nginx]
        access = self.nginx.folder / "agent-kanban.access.log"
        tails = [f"--- {process.name}\n{process.log_tail()}" for process in processes]
        tails += [f"--- {d.name} threads\n{d.thread_stacks()}" for d in self.daphnes.values()]
        if access.exists():
            tails.append(f"--- nginx access\n{access.read_text(errors='replace')[-3000:]}")
        return "\n".join(tails)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test through the stack reports what its processes logged: the stack's
    folder is gone by the time anyone reads a CI log."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(stack, Stack):
        report.sections.append(("stack logs", stack.log_tails()))
    return report


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of the stack's own, on either test pass."""
    with throwaway_database("deploy") as url:
        yield url


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_database) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("deploy")
    ports = {name: free_port() for name in ("https", "http", "gunicorn")}
    daphne_ports = [free_port() for _ in range(DAPHNES)]
    https = f"https://127.0.0.1:{ports['https']}"
    prefix = f"ak-deploy-{uuid.uuid4().hex[:10]}"
    static_root = folder / "static"

    # The operator's file: the example with the REQUIRED values and this machine's paths.
    env = read_env_file(ENV_EXAMPLE)
    env.update(
        SECRET_KEY=new_secret(),
        ALLOWED_HOSTS="127.0.0.1",
        CORS_ORIGINS=https,
        CSRF_TRUSTED_ORIGINS=https,
        DATABASE_URL=postgres_database,
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        CHANNEL_LAYER_PREFIX=prefix,
        VAR_DIR=str(folder / "var"),
        STATIC_ROOT=str(static_root),
        METRICS_TOKEN=new_secret(),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "metrics"),
        GUNICORN_BIND=f"127.0.0.1:{ports['gunicorn']}",
        GUNICORN_WORKERS=str(GUNICORN_WORKERS),
        BACKUP_DIR=str(folder / "backups"),
    )
    env_file = write_env_file(folder / "agent-kanban.env", env)

    # The deployment steps of docs/deployment.md.
    collect = subprocess.Popen(**manage_command(env_file, "collectstatic", "--noinput", "-v", "0"))
    manage(env_file, "migrate", "--noinput", "-v", "0")
    manage(env_file, "first_run", "--url", https)
    admin_password = (folder / "var" / "admin-password.txt").read_text().strip()
    issued = manage(env_file, "create_token", "admin", "--name", "deploy-test")
    token = next(line for line in issued.splitlines() if line.startswith("ak_"))
    _, errors = collect.communicate(timeout=180)
    assert collect.returncode == 0, errors

    (folder / "run").mkdir()
    paths = {INSTALL_PREFIX: str(ROOT), "/run/agent-kanban-gunicorn": str(folder / "run")}
    services: list[Service] = []
    nginx = None
    try:
        unit = read_unit(UNITS / "agent-kanban-gunicorn.service")
        unit_env = unit_environment(unit, env_file)
        gunicorn = Service(
            "gunicorn",
            unit_command(unit, unit_env, paths=paths),
            unit_env,
            folder / "gunicorn.log",
        )
        services.append(gunicorn)
        unit = read_unit(UNITS / "agent-kanban-daphne@.service")
        daphnes = {}
        for port in daphne_ports:
            unit_env = unit_environment(unit, env_file)
            command = unit_command(unit, unit_env, instance=str(port), paths=paths)
            daphnes[port] = Service(f"daphne@{port}", command, unit_env, folder / f"d{port}.log")
            services.append(daphnes[port])
        gunicorn.wait_http(f"http://{env['GUNICORN_BIND']}/api/health/simple")
        for port, daphne in daphnes.items():
            daphne.wait_http(f"http://127.0.0.1:{port}/api/health/simple")

        cert, key = self_signed_certificate(folder)
        site = render_site(
            {
                "SERVER_NAME": "127.0.0.1",
                "HTTP_LISTEN": f"127.0.0.1:{ports['http']}",
                "HTTPS_LISTEN": f"127.0.0.1:{ports['https']}",
                "TLS_CERTIFICATE": str(cert),
                "TLS_CERTIFICATE_KEY": str(key),
                "STATIC_ROOT": str(static_root),
                "CLIENT_MAX_BODY_SIZE": env["MAX_REQUEST_BYTES"],
                "ACCESS_LOG": str(folder / "nginx" / "agent-kanban.access.log"),
                "GUNICORN": env["GUNICORN_BIND"],
                "DAPHNE_1": f"127.0.0.1:{daphne_ports[0]}",
                "DAPHNE_2": f"127.0.0.1:{daphne_ports[1]}",
            }
        )
        nginx = Nginx(folder / "nginx", site)
        tls = tls_context(cert)
        nginx.wait_http(f"{https}/api/health/simple", verify=tls)

        yield Stack(
            https=https,
            http=f"http://127.0.0.1:{ports['http']}",
            tls=tls,
            websocket_tls=websocket_tls_context(cert),
            env_file=env_file,
            env=env,
            static_root=static_root,
            gunicorn=gunicorn,
            daphnes=daphnes,
            nginx=nginx,
            admin_password=admin_password,
            token=token,
        )
    finally:
        if nginx is not None:
            nginx.stop()
        for service in services:
            service.terminate()
        for service in services:
            service.stop()
        _forget_redis_keys(prefix)


def _forget_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
