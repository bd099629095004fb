"""Agents at work against real servers: each one a thread with its own HTTP client,
creating tickets, taking the next ready one and finishing it, for a bounded time and
number of calls. What they saw comes back for the test to judge; nothing is timed."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class Outcome:
    statuses: Counter = field(default_factory=Counter)
    # (status, error code) of every answer that was not 2xx.
    errors: Counter = field(default_factory=Counter)
    claimed: list[int] = field(default_factory=list)  # ticket ids claim-next handed out
    created: list[int] = field(default_factory=list)
    retry_after: set[str] = field(default_factory=set)  # Retry-After of the 503s
    failures: list[str] = field(default_factory=list)  # transport errors

    def merge(self, other: "Outcome") -> None:
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.claimed.extend(other.claimed)
        self.created.extend(other.created)
        self.retry_after |= other.retry_after
        self.failures.extend(other.failures)

    def summary(self) -> str:
        """One line for the figures in docs/operations.md (pytest -s shows it)."""
        answered = sum(self.statuses.values())
        return (
            f"{answered} answers: {dict(sorted(self.statuses.items()))}, "
            f"errors {dict(self.errors)}, {len(self.claimed)} claims "
            f"({len(set(self.claimed))} distinct), {len(self.failures)} transport failures"
        )

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    @property
    def bugs(self) -> int:
        """Answers a client may never get: any 5xx but a 503 `database_busy`."""
        return self.server_errors - self.errors[(503, "database_busy")]


def _code(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except Exception:
        return "not-json"


def agent_loop(
    base: str, secret: str, board_id: int, *, until: float, calls: int, stop: threading.Event
) -> Outcome:
    seen = Outcome()
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for number in range(calls):
            if time.monotonic() > until or stop.is_set():
                break
            step = number % 3
            try:
                if step == 0:
                    body = {"board_id": board_id, "title": f"load {number}"}
                    response = client.post("/api/tickets/", json=body)
                    if response.status_code == 201:
                        seen.created.append(response.json()["id"])
                elif step == 1:
                    response = client.post(f"/api/boards/{board_id}/claim-next", json={})
                    if response.status_code == 200:
                        seen.claimed.append(response.json()["id"])
                else:
                    if not seen.claimed:
                        continue
                    ticket_id = seen.claimed[-1]
                    response = client.post(
                        f"/api/tickets/{ticket_id}/move", json={"column": "Done"}
                    )
            except httpx.HTTPError as error:
                seen.failures.append(repr(error))
                time.sleep(0.1)  # as a client would, rather than spin on a dead server
                continue
            seen.statuses[response.status_code] += 1
            if response.status_code >= 300:
                seen.errors[(response.status_code, _code(response))] += 1
            if response.status_code == 503:
                seen.retry_after.add(response.headers.get("Retry-After", ""))
    return seen


def run_agents(
    bases: list[str], secrets: list[str], board_id: int, *, seconds: float, calls: int = 300
) -> Outcome:
    """Every secret an agent, spread over the servers at `bases`, working at once."""
    stop = threading.Event()
    until = time.monotonic() + seconds
    total = Outcome()
    with ThreadPoolExecutor(max_workers=len(secrets)) as pool:
        futures = [
            pool.submit(
                agent_loop,
                bases[index % len(bases)],
                secret,
                board_id,
                until=until,
                calls=calls,
                stop=stop,
            )
            for index, secret in enumerate(secrets)
        ]
        for future in futures:
            total.merge(future.result())
    return total
