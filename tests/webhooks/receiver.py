"""A real HTTP receiver for webhook tests: a ThreadingHTTPServer on a free port that
records every request (headers, raw body, when) and answers what the test planned."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: Message
    body: bytes
    at: float  # time.time() when it arrived
    path: str

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["X-Agent-Kanban-Delivery"]


class Receiver:
    """`answers`: statuses for the first requests, in order (then 200); `delay`: seconds
    each answer takes. Counts overlaps: a delivery id, or a webhook's path, being served
    twice at the same moment."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0) -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.requests: list[Received] = []
        self.overlaps: list[str] = []
        self.max_concurrent = 0
        self.respond: Callable[[BaseHTTPRequestHandler], bool] | None = None
        self._busy: dict[str, int] = {}
        self._concurrent = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def url_for(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{name}"

    def seqs(self, path: str | None = None) -> list[int]:
        with self._lock:
            return [r.json["seq"] for r in self.requests if path is None or r.path == path]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} requests arrived")
                self._arrived.wait(left)
            return list(self.requests)

    def _enter(self, keys: list[str], received: Received) -> int | None:
        with self._lock:
            # Noted on arrival: the sender may have its answer before this thread is done.
            self.requests.append(received)
            self._arrived.notify_all()
            for key in keys:
                if self._busy.get(key):
                    self.overlaps.append(key)
                self._busy[key] = self._busy.get(key, 0) + 1
            self._concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self._concurrent)
            return self.answers.pop(0) if self.answers else None

    def _leave(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._busy[key] -= 1
            self._concurrent -= 1

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = Received(self.headers, body, time.time(), self.path)
                keys = [f"delivery {self.headers['X-Agent-Kanban-Delivery']}", f"path {self.path}"]
                planned = receiver._enter(keys, received)
                try:
                    if receiver.delay:
                        time.sleep(receiver.delay)
                    if receiver.respond is not None and receiver.respond(self):
                        return
                    status = planned or 200
                    answer = b"ok" if status < 300 else b"nope"
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    self.close_connection = True  # the sender hung up (or was killed)
                finally:
                    receiver._leave(keys)

            def log_message(self, *args) -> None:
                pass

        return Handler
