"""schemathesis hooks for tests/security/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer may revoke any token it finds, its own included, and every later call would
then be a 401 that tests nothing: a revocation of its own token goes to a spare one.

The `positive_data_acceptance` check wants every request valid by the document accepted.
Some rules no document can state: they depend on stored rows (a column of this board, a
user who exists, a time still ahead) or relate two fields (a header and the body's field
it stands for). A positive case is steered to keep them too, one small function a rule;
negative cases go out as they were generated."""

import os
from datetime import UTC, datetime, timedelta
from functools import cache

import httpx
import schemathesis
from schemathesis import GenerationMode

AGENT = "fuzzer"  # the seeded agent (tests/security/server.py): a user that exists
# A global IPv4 literal, so that no DNS lookup decides (webhooks/addresses.py); the test
# server runs no webhook worker, so nothing is ever sent there.
WEBHOOK_URL = "https://93.184.215.14/hook"
CLAIM_TOKEN_HEADER = "x-claim-token"


def spare_own_token(case, own_token_id: int, spare_token_id: int) -> None:
    parameters = case.path_parameters or {}
    if str(parameters.get("token_id")) == str(own_token_id) and case.method.upper() == "POST":
        parameters["token_id"] = spare_token_id


# ---------------------------------------------------------------- the server's state


@cache
def _client() -> httpx.Client:
    secret = os.environ["FUZZ_SECRET"]
    headers = {"Authorization": f"Bearer {secret}"}
    return httpx.Client(base_url=os.environ["FUZZ_URL"], headers=headers, timeout=30)


def _read(path: str) -> dict | None:
    response = _client().get(path)
    return response.json() if response.status_code == 200 else None


def board_columns(board_id) -> list[str]:
    """The names of the board's columns, none when the fuzzer cannot read it."""
    board = _read(f"/api/boards/{board_id}/")
    return list(board["columns"]) if board else []


def ticket_board(ticket_id) -> int | None:
    ticket = _read(f"/api/tickets/{ticket_id}/")
    return ticket["board_id"] if ticket else None


# ---------------------------------------------------------------- steering


def _body(case) -> dict:
    return case.body if isinstance(case.body, dict) else {}


def _drop_header(case, name: str) -> None:
    for key in [key for key in case.headers or {} if key.lower() == name]:
        del case.headers[key]


def name_a_column(fields: dict, names: list[str]) -> None:
    """A column is named by `column` or its alias `current_column`, one of the board's."""
    given = [field for field in ("column", "current_column") if fields.get(field) is not None]
    if not given or not names:
        return
    for field in given[1:]:
        fields.pop(field)
    fields[given[0]] = names[len(str(fields[given[0]])) % len(names)]


def column_of_path_board(case) -> None:
    """Columns exist per board: name one of the board the path names."""
    fields = case.query if case.method.upper() == "GET" else _body(case)
    name_a_column(fields or {}, board_columns(case.path_parameters["board_id"]))


def column_of_body_board(case) -> None:
    """A new ticket goes to a column of the board it is created on."""
    name_a_column(_body(case), board_columns(_body(case).get("board_id")))


def column_of_ticket_board(case) -> None:
    """A ticket moves within its own board."""
    board_id = ticket_board(case.path_parameters["id"])
    name_a_column(_body(case), board_columns(board_id) if board_id else [])


def column_of_every_ticket_board(case) -> None:
    """A bulk move names one column, which every ticket's board must have: else the
    move keeps to the first ticket."""
    body = _body(case)
    boards = {ticket_board(ticket_id) for ticket_id in body.get("ticket_ids") or []} - {None}
    common = set.intersection(*(set(board_columns(board)) for board in boards)) if boards else ()
    if boards and not common:
        body["ticket_ids"] = body["ticket_ids"][:1]
        common = board_columns(ticket_board(body["ticket_ids"][0]))
    name_a_column(body, sorted(common))


def one_column_filter(case) -> None:
    """`current_column` is `column`'s alias: a filter gives one of the two."""
    query = case.query or {}
    if query.get("column") is not None:
        query.pop("current_column", None)


def forge_rule_columns(case) -> None:
    """A forge rule moves tickets to a column of this board."""
    names = board_columns(case.path_parameters["board_id"])
    body = _body(case)
    for field in ("on_pr_opened", "on_pr_merged"):
        if isinstance(body.get(field), str) and body[field]:
            body[field] = names[0] if names else None


def no_parent(case) -> None:
    """A parent is another ticket of the same board, at most 3 levels up: a drawn id is
    rarely one, so the ticket gets none."""
    if "parent_id" in _body(case):
        _body(case)["parent_id"] = None


def no_blockers(case) -> None:
    """A blocker is another ticket of the board that does not already wait on this one: a
    drawn id rarely is, so the ticket waits on none."""
    if "blocked_by" in _body(case):
        _body(case)["blocked_by"] = []


def real_assignee(case) -> None:
    """An assignee is a user who exists."""
    body = _body(case)
    if isinstance(body.get("assignee"), str) and body["assignee"]:
        body["assignee"] = AGENT


def one_claim_token(case) -> None:
    """X-Claim-Token stands for the body's claim_token: given both, they would disagree."""
    if _body(case).get("claim_token") is not None:
        _drop_header(case, CLAIM_TOKEN_HEADER)


def no_claim_token(case) -> None:
    """A drawn claim token is no claim's, and an edit needs none."""
    _body(case).pop("claim_token", None)
    _drop_header(case, CLAIM_TOKEN_HEADER)


def one_version(case) -> None:
    """If-Match stands for the body's version: given both, they would disagree."""
    if _body(case).get("version") is not None:
        _drop_header(case, "if-match")


def comment_on_request_changes(case) -> None:
    """Requesting changes says which."""
    body = _body(case)
    if body.get("decision") == "request_changes" and not str(body.get("comment") or "").strip():
        body["comment"] = "Split this card in two."


def future_expiry(case) -> None:
    """A token expires after it is made."""
    body = _body(case)
    try:
        expires_at = datetime.fromisoformat(body["expires_at"])
    except (KeyError, TypeError, ValueError):
        return
    if expires_at.tzinfo and expires_at <= datetime.now(UTC) + timedelta(hours=1):
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()


def one_real_member(case) -> None:
    """A member is a user who exists, named by user_id or by username, one of the two."""
    body = _body(case)
    if "user_id" in body:
        body.pop("username", None)
        body["user_id"] = int(os.environ["FUZZ_USER_ID"])
    else:
        body["username"] = AGENT


def existing_boards(case) -> None:
    """A token is limited to boards that exist."""
    body = _body(case)
    if isinstance(body.get("board_ids"), list):
        body["board_ids"] = [board for board in body["board_ids"] if board_columns(board)]


def public_webhook_url(case) -> None:
    """A webhook goes to a public address, and a drawn host name would need DNS."""
    body = _body(case)
    if "url" in body:
        body["url"] = WEBHOOK_URL


TICKET_EDIT = [column_of_ticket_board, real_assignee, no_parent, no_claim_token, one_version]
STEERING = {
    ("GET", "/api/tickets/"): [one_column_filter],
    ("POST", "/api/tickets/"): [column_of_body_board, real_assignee, no_parent],
    ("PUT", "/api/tickets/{id}/"): TICKET_EDIT,
    ("PATCH", "/api/tickets/{id}/"): TICKET_EDIT,
    ("POST", "/api/tickets/{id}/move/"): [column_of_ticket_board, no_claim_token, one_version],
    ("PUT", "/api/tickets/{id}/dependencies/"): [no_blockers],
    ("POST", "/api/tickets/{id}/review/"): [comment_on_request_changes, one_version],
    ("POST", "/api/tickets/{id}/heartbeat/"): [one_claim_token],
    ("POST", "/api/tickets/{id}/progress/"): [one_claim_token],
    ("POST", "/api/tickets/{id}/release/"): [one_claim_token],
    ("POST", "/api/comments/"): [one_claim_token],
    ("POST", "/api/bulk/tickets/move/"): [column_of_every_ticket_board],
    ("POST", "/api/bulk/tickets/assign/"): [real_assignee],
    ("POST", "/api/boards/{board_id}/claim-next/"): [column_of_path_board],
    ("GET", "/api/statistics/boards/{board_id}/tickets/colors/"): [column_of_path_board],
    ("PUT", "/api/boards/{board_id}/forge/"): [forge_rule_columns],
    ("POST", "/api/boards/{id}/members/"): [one_real_member],
    ("POST", "/api/boards/{board_id}/webhooks/"): [public_webhook_url],
    ("PATCH", "/api/boards/{board_id}/webhooks/{webhook_id}/"): [public_webhook_url],
    ("POST", "/api/tokens/"): [future_expiry, existing_boards],
}


def steer_positive_case(case) -> None:
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        for steer in STEERING.get((case.method.upper(), case.operation.path), []):
            steer(case)


# Registered in the schemathesis process only: the pytest process imports
# spare_own_token, and a hook there would apply to its own fuzz test too.
if "FUZZ_OWN_TOKEN_ID" in os.environ:

    @schemathesis.hook
    def before_call(context, case, kwargs) -> None:
        own, spare = os.environ["FUZZ_OWN_TOKEN_ID"], os.environ["FUZZ_SPARE_TOKEN_ID"]
        spare_own_token(case, int(own), int(spare))
        steer_positive_case(case)
