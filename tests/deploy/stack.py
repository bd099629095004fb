"""The production kit run for real: nginx from the site template, gunicorn and daphne
started with the very command lines of the systemd units, the environment file made
from deploy/agent-kanban.env.example. Only machine paths, ports and secrets differ."""

import os
import re
import secrets
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "agent-kanban.env.example"
SITE_TEMPLATE = DEPLOY / "nginx" / "agent-kanban.conf"
INSTALL_PREFIX = "/opt/agent-kanban"
NGINX = "/usr/sbin/nginx"

# Explicit on both passes: the production shape has no form without Redis.
REDIS_URL = os.environ.get("DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/5")

# What a process started by systemd inherits besides its environment file.
BASE_ENV_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- environment files


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as systemd's EnvironmentFile reads the unquoted ones."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path}: bad line {raw!r}"
        values[name] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


# ---------------------------------------------------------------- systemd units


@dataclass
class Unit:
    path: Path
    environment: dict[str, str] = field(default_factory=dict)
    exec_start: list[str] = field(default_factory=list)
    directives: dict[str, list[str]] = field(default_factory=dict)


def read_unit(path: Path) -> Unit:
    unit = Unit(path)
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        if not pending and raw.lstrip().startswith(("#", ";")):
            continue
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        logical.append(pending + raw)
        pending = ""
    for line in logical:
        name, sep, value = line.partition("=")
        if not sep or name.startswith("["):
            continue
        name, value = name.strip(), value.strip()
        unit.directives.setdefault(name, []).append(value)
        if name == "Environment":
            for pair in shlex.split(value):
                key, _, val = pair.partition("=")
                unit.environment[key] = val
        elif name == "ExecStart":
            unit.exec_start.append(value)
    return unit


def unit_command(
    unit: Unit, env: dict[str, str], *, instance: str = "", paths: dict[str, str]
) -> list[str]:
    """The unit's ExecStart as systemd would run it: specifiers, then ${NAME} and
    $NAME from the environment; install paths swapped for this machine's."""
    assert len(unit.exec_start) == 1, unit.path
    line = unit.exec_start[0].replace("%i", instance).replace("%%", "%")
    for old, new in paths.items():
        line = line.replace(old, new)
    words = []
    for word in shlex.split(line):
        word = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word)
        if re.fullmatch(r"\$\w+", word):
            words.extend(env[word[1:]].split())
        else:
            words.append(word)
    return words


def unit_environment(unit: Unit, env_file: Path) -> dict[str, str]:
    """Environment= first, then the EnvironmentFile over it, as systemd orders them."""
    env = {name: os.environ[name] for name in BASE_ENV_NAMES if name in os.environ}
    env.update(unit.environment)
    env.update(read_env_file(env_file))
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---------------------------------------------------------------- processes


class Watched:
    """A long-running process and the log that says why it failed."""

    name: str
    log: Path
    process: subprocess.Popen

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def thread_stacks(self) -> str:
        """What every thread of the process is doing now (py-spy, a dev requirement)."""
        if self.process.poll() is not None:
            return f"(exited with {self.process.returncode})"
        py_spy = Path(sys.executable).with_name("py-spy")
        dump = [str(py_spy), "dump", "--pid", str(self.process.pid)]
        try:
            done = subprocess.run(dump, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return "(py-spy dump timed out)"
        return (done.stdout + done.stderr)[-6000:]

    def wait_http(self, url: str, timeout: float = 60, **request) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2, **request).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not answer {url} in {timeout}s:\n{self.log_tail()}")


class Service(Watched):
    def __init__(self, name: str, command: list[str], env: dict, log: Path) -> None:
        self.name, self.log = name, log
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )

    def terminate(self) -> None:
        """Ask it to stop, without waiting (stop() waits)."""
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def manage_command(env_file: Path, *args: str) -> dict:
    """deploy/manage, the operator's way to run manage.py with the environment file."""
    return {
        "args": [str(DEPLOY / "manage"), *args],
        "cwd": ROOT,
        "env": {
            **{name: os.environ[name] for name in BASE_ENV_NAMES if name in os.environ},
            "ENV_FILE": str(env_file),
            "PYTHON": sys.executable,
        },
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
    }


def manage(env_file: Path, *args: str, timeout: float = 180) -> str:
    done = subprocess.run(**manage_command(env_file, *args), timeout=timeout)
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# ---------------------------------------------------------------- TLS and nginx


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def websocket_tls_context(cert: Path) -> ssl.SSLContext:
    """For websockets' threaded client, which reads the socket on a thread of its own
    while the caller's thread writes the handshake. Python's TLS sockets are not safe
    for a read and a write at once, and TLS 1.3 sends its session tickets just after
    the handshake, so now and then the upgrade request was lost on its way: nginx
    logged the connection, TLS done, and no request in 60 s. TLS 1.2 ends its handshake
    with nothing more to read (browsers and the asyncio client have no such race)."""
    context = tls_context(cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def render_site(values: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "render"), str(SITE_TEMPLATE)]
        + [f"{name}={value}" for name, value in values.items()],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


MAIN_CONF = """\
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {run}/access.log;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {site};
}}
"""


class Nginx(Watched):
    """Debian's nginx with the rendered site inside a minimal main config of its own
    (its own pid, logs and temp paths), as /etc/nginx/nginx.conf includes sites."""

    def __init__(self, folder: Path, site: str) -> None:
        assert Path(NGINX).exists(), "nginx is missing: run scripts/install-nginx"
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.name, self.log = folder, "nginx", folder / "error.log"
        site_file = folder / "agent-kanban.conf"
        site_file.write_text(site)
        # As root nginx would hand its workers to `nobody`, who cannot read the test's
        # private temporary folders; the real site runs them as www-data.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf = folder / "nginx.conf"
        self.conf.write_text(MAIN_CONF.format(user=user, run=folder, site=site_file))
        self.command = [NGINX, "-p", str(folder), "-e", str(folder / "error.log")]
        self.command += ["-c", str(self.conf)]
        checked = subprocess.run([*self.command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(
            [*self.command, "-g", "daemon off;"],
            stdout=(folder / "stdout.log").open("w"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def new_secret() -> str:
    return secrets.token_urlsafe(64)
