"""Start and stop the server shapes under test, on free ports, and read their memory."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_open_files_limit(needed: int) -> int:
    """Each WebSocket client holds a socket here and one in the server (a child inherits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (gunicorn's workers)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        pending += [int(child) for child in children]
    return total


def _wait_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/api/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


def wait_or_kill(processes, timeout: float = 30) -> None:
    """Wait for processes told to end (reading what they still write to a pipe);
    kill those that have not ended within `timeout` seconds."""
    for process in processes:
        try:
            process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Shape:
    """One running shape: where HTTP and WebSocket are served, and the processes."""

    name: str
    env: dict
    folder: Path
    http_base: str = ""
    ws_base: str = ""
    pubsub_base: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def _spawn(self, label: str, command: list[str], base: str) -> None:
        log = self.folder / f"{label}.log"
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        self.processes[label] = process
        _wait_ready(base, process, log)

    def start(self) -> None:
        daphne_port = free_port()
        self.ws_base = f"http://127.0.0.1:{daphne_port}"
        daphne = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(daphne_port)]
        self._spawn("daphne", [*daphne, "agent_kanban.asgi:application"], self.ws_base)
        if self.name == "embedded":
            self.http_base = self.ws_base
            return
        http_port = free_port()
        self.http_base = f"http://127.0.0.1:{http_port}"
        gunicorn = [
            str(BIN / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{http_port}",
            "--backlog",
            "2048",
            "--access-logfile",
            "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
            "agent_kanban.wsgi:application",
        ]
        self._spawn("gunicorn", gunicorn, self.http_base)
        # A second daphne on channels-redis's Pub/Sub layer, for the fan-out comparison;
        # its writes go through itself, since writer and watchers must share the layer.
        pubsub_port = free_port()
        self.pubsub_base = f"http://127.0.0.1:{pubsub_port}"
        pubsub = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(pubsub_port)]
        env, self.env = self.env, {**self.env, "CHANNEL_LAYER_BACKEND": "pubsub"}
        try:
            self._spawn(
                "daphne-pubsub", [*pubsub, "agent_kanban.asgi:application"], self.pubsub_base
            )
        finally:
            self.env = env

    def http_pid(self) -> int:
        return self.processes["gunicorn" if "gunicorn" in self.processes else "daphne"].pid

    def ws_pid(self) -> int:
        return self.processes["daphne"].pid

    def http_rss_kib(self) -> int:
        return rss_kib(self.http_pid())

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        wait_or_kill(self.processes.values())
        self.processes.clear()
