"""What a forge's delivery is about, in one shape for every forge: the branches, commits
and pull/merge requests it names, where each may mention tickets, and whether a pull
request was opened or merged (what a board's rules act on).

GitHub: `pull_request` (opened, reopened, edited, closed with or without `merged`),
`push` (its commits and branch), `create` (a branch). GitLab: `Merge Request Hook`
(open, reopen, update, merge, close), `Push Hook`. Gitea and Forgejo: `pull_request`,
`push`, `create`, in GitHub's manner but with their own field names."""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from forge.rules import COMMITS_MAX, DELIVERY_ID_MAX, TICKETS_MAX, TITLE_MAX, URL_MAX

OPENED, MERGED = "opened", "merged"
ZERO_SHA = "0" * 40
# `#123` or `AK-123` (any case), not inside a word or a longer number: `feature/AK-12-x`,
# "Fixes #12." and "(#12)" mention 12; `abc#12`, `#12a` and `XAK-12` do not.
MENTION = re.compile(r"(?<![0-9A-Za-z])(?:#|AK-)([0-9]{1,9})(?![0-9A-Za-z])", re.IGNORECASE)


class Ignored(Exception):
    """A delivery about something the board does not follow, and why."""


@dataclass(frozen=True)
class Found:
    """A branch, commit or pull/merge request a delivery names."""

    kind: str
    url: str
    title: str
    state: str
    external_id: str
    texts: tuple[str, ...]  # where mentions of tickets are looked for
    transition: str | None = None  # OPENED or MERGED: what the board's rules act on


@dataclass(frozen=True)
class Delivery:
    event: str
    found: list[Found] = field(default_factory=list)


def mentioned(texts: Iterable[str]) -> list[int]:
    """The ticket numbers `texts` mention, in order of first mention, at most TICKETS_MAX."""
    numbers: dict[int, None] = {}
    for text in texts:
        for match in MENTION.finditer(text or ""):
            numbers.setdefault(int(match.group(1)), None)
    return list(numbers)[:TICKETS_MAX]


# ---------------------------------------------------------------- headers


EVENT_HEADERS = {
    "github": ("X-GitHub-Event",),
    "gitlab": ("X-Gitlab-Event",),
    "gitea": ("X-Gitea-Event", "X-Forgejo-Event"),
}
DELIVERY_HEADERS = {
    "github": ("X-GitHub-Delivery",),
    # Idempotency-Key stays the same when GitLab retries; the event UUID is older.
    "gitlab": ("Idempotency-Key", "X-Gitlab-Event-UUID"),
    "gitea": ("X-Gitea-Delivery", "X-Forgejo-Delivery"),
}


def _header(headers: Mapping[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = (headers.get(name) or "").strip()
        if value:
            return value
    return ""


def event_name(forge: str, headers: Mapping[str, str]) -> str:
    return _header(headers, EVENT_HEADERS[forge])[:50]


def delivery_id(forge: str, headers: Mapping[str, str], body: bytes) -> str:
    """The forge's id of the delivery; without one, the body's hash, so that the same
    body sent twice is still one delivery."""
    given = _header(headers, DELIVERY_HEADERS[forge])
    if not given:
        return "body:" + hashlib.sha256(body).hexdigest()[:64]
    if len(given) > DELIVERY_ID_MAX:
        return "sha256:" + hashlib.sha256(given.encode("utf-8", "replace")).hexdigest()
    return given


# ---------------------------------------------------------------- reading payloads


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value, maximum: int = 100_000) -> str:
    return value[:maximum] if isinstance(value, str) else ""


def _first_line(message: str) -> str:
    return message.strip().split("\n", 1)[0][:TITLE_MAX]


def _url(value) -> str:
    url = _text(value)
    return url if url.startswith(("https://", "http://")) and len(url) <= URL_MAX else ""


def _branch_of(ref: str) -> str:
    if not ref.startswith("refs/heads/"):
        raise Ignored("not a branch (a tag, or another ref)")
    return ref.removeprefix("refs/heads/")


def _branch(url: str, name: str) -> list[Found]:
    if not url or not name:
        return []
    return [Found("branch", url, name[:TITLE_MAX], "created", name[:255], (name,))]


def _commits(commits, limit: int = COMMITS_MAX) -> list[Found]:
    found = []
    for commit in commits[:limit] if isinstance(commits, list) else []:
        commit = _dict(commit)
        message, url = _text(commit.get("message")), _url(commit.get("url"))
        # GitHub marks commits already pushed elsewhere `distinct: false`: they were seen.
        if url and message and commit.get("distinct", True) is not False:
            sha = _text(commit.get("id"), 64)
            found.append(Found("commit", url, _first_line(message), "pushed", sha, (message,)))
    return found


def _pull_request(
    kind: str, url: str, number, title: str, body: str, branch: str, state: str, transition
) -> list[Found]:
    if not url:
        raise Ignored("no link to the pull request")
    title = _text(title)
    return [
        Found(
            kind,
            url,
            title[:TITLE_MAX],
            state,
            str(number)[:255] if number is not None else "",
            (title, _text(body), _text(branch)),
            transition,
        )
    ]


PR_ACTIONS = {"opened", "reopened", "edited", "closed", "synchronize", "synchronized"}


def _github_pull_request(payload: dict) -> list[Found]:
    action, pull = payload.get("action"), _dict(payload.get("pull_request"))
    if action not in PR_ACTIONS:
        raise Ignored(f"pull request {action!r}")
    merged = action == "closed" and pull.get("merged") is True
    state = "merged" if merged else ("closed" if action == "closed" else "open")
    transition = MERGED if merged else (OPENED if action in ("opened", "reopened") else None)
    head = _dict(pull.get("head"))
    return _pull_request(
        "pull_request",
        _url(pull.get("html_url")),
        pull.get("number", payload.get("number")),
        pull.get("title"),
        pull.get("body"),
        head.get("ref") if "ref" in head else pull.get("head_branch"),
        state,
        transition,
    )


def _github_push(payload: dict, tree: str) -> list[Found]:
    branch = _branch_of(_text(payload.get("ref")))
    if payload.get("deleted") is True or payload.get("after") == ZERO_SHA:
        raise Ignored("a branch deleted")
    repository = _url(_dict(payload.get("repository")).get("html_url"))
    branch_url = f"{repository}/{tree}/{branch}" if repository else ""
    return _branch(branch_url, branch) + _commits(payload.get("commits"))


def _github_create(payload: dict, tree: str) -> list[Found]:
    if payload.get("ref_type") != "branch":
        raise Ignored(f"a {payload.get('ref_type')!r} created, not a branch")
    branch = _text(payload.get("ref"), 255)
    repository = _url(_dict(payload.get("repository")).get("html_url"))
    return _branch(f"{repository}/{tree}/{branch}" if repository else "", branch)


GITLAB_STATES = {"opened": "open", "merged": "merged", "closed": "closed"}
GITLAB_ACTIONS = {"open": OPENED, "reopen": OPENED, "merge": MERGED, "update": None, "close": None}


def _gitlab_merge_request(payload: dict) -> list[Found]:
    attributes = _dict(payload.get("object_attributes"))
    action = attributes.get("action")
    if action not in GITLAB_ACTIONS:
        raise Ignored(f"merge request {action!r}")
    state = GITLAB_STATES.get(attributes.get("state"), _text(attributes.get("state"), 20))
    if action == "merge":
        state = "merged"
    return _pull_request(
        "merge_request",
        _url(attributes.get("url")),
        attributes.get("iid"),
        attributes.get("title"),
        attributes.get("description"),
        attributes.get("source_branch"),
        state,
        GITLAB_ACTIONS[action],
    )


def _gitlab_push(payload: dict) -> list[Found]:
    branch = _branch_of(_text(payload.get("ref")))
    if payload.get("after") == ZERO_SHA:
        raise Ignored("a branch deleted")
    project = _url(_dict(payload.get("project")).get("web_url"))
    branch_url = f"{project}/-/tree/{branch}" if project else ""
    return _branch(branch_url, branch) + _commits(payload.get("commits"))


PARSERS = {
    ("github", "pull_request"): _github_pull_request,
    ("github", "push"): lambda payload: _github_push(payload, "tree"),
    ("github", "create"): lambda payload: _github_create(payload, "tree"),
    ("gitlab", "Merge Request Hook"): _gitlab_merge_request,
    ("gitlab", "Push Hook"): _gitlab_push,
    # Gitea's pull request has GitHub's fields but `head_branch` for the branch.
    ("gitea", "pull_request"): _github_pull_request,
    ("gitea", "push"): lambda payload: _github_push(payload, "src/branch"),
    ("gitea", "create"): lambda payload: _github_create(payload, "src/branch"),
}


def read_delivery(forge: str, event: str, payload) -> Delivery:
    """What the delivery names; Ignored for an event or action the board does not follow."""
    parser = PARSERS.get((forge, event))
    if parser is None:
        raise Ignored(f"event {event!r}" if event else "no event named")
    if not isinstance(payload, dict):
        raise Ignored("the body is not a JSON object")
    return Delivery(event=event, found=parser(payload))
