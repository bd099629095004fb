"""create_agent, create_token and seed_demo, called as operators call them."""

import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import ApiToken, User
from agents.services import hash_token
from audit.models import AuditEvent
from boards.models import Board, BoardEvent, BoardMembership
from comments.models import Comment
from history.models import TicketHistory
from tests.factories import make_board, make_user
from tickets.models import Ticket


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def secret_in(output: str) -> str:
    """The token printed on a line of its own."""
    lines = [line for line in output.splitlines() if line.startswith("ak_")]
    assert len(lines) == 1, output
    return lines[0]


# ---------------------------------------------------------------- create_agent


@pytest.mark.django_db
def test_create_agent_prints_a_working_token_and_how_to_send_it():
    output = run("create_agent", "claude-7", "--token-name", "laptop")

    secret = secret_in(output)
    assert f"Authorization: Bearer {secret}" in output
    token = ApiToken.objects.select_related("user").get(key_hash=hash_token(secret))
    assert token.name == "laptop"
    assert token.user.username == "claude-7" and token.user.is_agent
    assert not token.user.has_usable_password()


@pytest.mark.django_db
def test_create_agent_token_authenticates_against_the_api(anon):
    secret = secret_in(run("create_agent", "claude-8"))
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = anon.get("/api/users/session").json()
    assert body["username"] == "claude-8" and body["kind"] == "agent"


@pytest.mark.django_db
def test_create_agent_refuses_an_existing_name(user):
    with pytest.raises(CommandError, match="already exists"):
        run("create_agent", user.username)
    assert not User.objects.filter(username=user.username, is_agent=True).exists()
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_create_agent_refuses_a_blank_name():
    with pytest.raises(CommandError, match="needs a name"):
        run("create_agent", "   ")


@pytest.mark.django_db
def test_create_agent_joins_the_boards_given_by_id_or_name(user, anon):
    """The README's first hour: the new agent sees its board at once."""
    first = make_board(user, "Getting started")
    second = make_board(user, "Platform")
    make_board(user, "Not for agents")

    output = run(
        "create_agent", "claude-9", "--board", "Getting started", "--board", str(second.pk)
    )

    agent = User.objects.get(username="claude-9")
    roles = dict(BoardMembership.objects.filter(user=agent).values_list("board__name", "role"))
    assert roles == {"Getting started": "agent", "Platform": "agent"}
    assert f"claude-9 is now agent of board 'Getting started' (id {first.pk})." in output
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {secret_in(output)}")
    listed = [board["name"] for board in anon.get("/api/boards/").json()["items"]]
    assert listed == ["Getting started", "Platform"]
    added = AuditEvent.objects.filter(action="membership.added", target_id=str(agent.pk))
    assert sorted(added.values_list("board_id", "actor", "details__role")) == [
        (first.pk, None, "agent"),
        (second.pk, None, "agent"),
    ]


@pytest.mark.django_db
def test_create_agent_takes_a_role_and_refuses_an_unknown_board_making_nothing(user):
    board = make_board(user, "Getting started")
    run("create_agent", "watcher", "--board", str(board.pk), "--role", "viewer")
    assert BoardMembership.objects.get(user__username="watcher").role == "viewer"

    with pytest.raises(CommandError, match="No board named 'Nowhere'"):
        run("create_agent", "lost", "--board", "Getting started", "--board", "Nowhere")
    assert not User.objects.filter(username="lost").exists()
    make_board(user, "Getting started")
    with pytest.raises(CommandError, match="Several boards are named"):
        run("create_agent", "lost", "--board", "Getting started")
    assert not User.objects.filter(username="lost").exists()


# ---------------------------------------------------------------- create_token


@pytest.mark.django_db
def test_create_token_joins_the_user_to_the_boards_it_is_limited_to(user, agent_with_token):
    agent, _ = agent_with_token
    mine = make_board(user, "Mine")
    output = run("create_token", agent.username, "--name", "ci", "--board", "Mine")
    token = ApiToken.objects.get(key_hash=hash_token(secret_in(output)))
    assert list(token.boards.values_list("name", flat=True)) == ["Mine"]
    assert BoardMembership.objects.get(board=mine, user=agent).role == "agent"
    # A member keeps their role, unless --role says otherwise.
    run("create_token", user.username, "--board", "Mine")
    assert BoardMembership.objects.get(board=mine, user=user).role == "admin"
    run("create_token", agent.username, "--board", str(mine.pk), "--role", "viewer")
    assert BoardMembership.objects.get(board=mine, user=agent).role == "viewer"


@pytest.mark.django_db
def test_create_token_for_a_person_with_expiry(user):
    before = timezone.now()
    output = run("create_token", user.username, "--name", "ci", "--expires-days", "30")

    token = ApiToken.objects.get(key_hash=hash_token(secret_in(output)))
    assert token.user == user and token.name == "ci"
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert "Authorization: Bearer ak_" in output


@pytest.mark.django_db
def test_create_token_for_an_agent_without_expiry(agent_with_token):
    agent, _ = agent_with_token
    token = ApiToken.objects.get(
        key_hash=hash_token(secret_in(run("create_token", agent.username)))
    )
    assert token.user == agent and token.expires_at is None
    assert agent.api_tokens.count() == 2


@pytest.mark.django_db
def test_create_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("create_token", "ghost")
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "-3", "100000"])
def test_create_token_refuses_odd_expiry(user, days):
    with pytest.raises(CommandError, match="--expires-days"):
        run("create_token", user.username, "--expires-days", days)
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_create_token_refuses_an_empty_name(user):
    with pytest.raises(CommandError, match="name of 1 to 100"):
        run("create_token", user.username, "--name", " ")


# ---------------------------------------------------------------- the real entry point


def database_url() -> str:
    """The test database, as DATABASE_URL, so that a child process uses it too."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url(), "VAR_DIR": str(settings.VAR_DIR)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_manage_py_create_agent_in_a_real_process():
    result = manage("create_agent", "proc-agent")
    assert result.returncode == 0, result.stderr

    token = ApiToken.objects.select_related("user").get(
        key_hash=hash_token(secret_in(result.stdout))
    )
    assert token.user.username == "proc-agent" and token.user.is_agent

    again = manage("create_agent", "proc-agent")
    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.django_db(transaction=True)
def test_manage_py_export_board_in_a_real_process(user):
    board = (
        run("seed_demo", "--boards", "1", "--tickets", "6", "--seed", "2") and Board.objects.get()
    )
    result = manage("export_board", str(board.pk))
    assert result.returncode == 0, result.stderr

    document = json.loads(result.stdout)
    assert document["board"]["name"] == board.name
    assert len(document["tickets"]) == 6


# ---------------------------------------------------------------- seed_demo


@pytest.mark.django_db
def test_seed_demo_makes_a_lived_in_board():
    output = run("seed_demo", "--boards", "1", "--tickets", "20", "--seed", "7")

    board = Board.objects.get()
    assert board.name in output and "20/20 tickets" in output
    tickets = Ticket.objects.filter(board=board)
    assert tickets.count() == 20
    assert all(t.title and t.description and t.acceptance_criteria for t in tickets)
    assert len({t.priority for t in tickets}) >= 3
    assert Ticket.labels.through.objects.filter(ticket__board=board).count() >= 20
    assert tickets.exclude(column__name="Backlog").count() >= 5
    assert Comment.objects.filter(ticket__board=board).count() >= 5

    movers = (
        TicketHistory.objects.filter(board=board, field_name="current_column")
        .exclude(old_value=None)
        .values("changed_by__username")
        .annotate(moves=Count("id"))
    )
    assert {row["changed_by__username"] for row in movers} >= {"maria", "claude-demo"}
    people = User.objects.filter(username__in=["maria", "jonas", "claude-demo"])
    assert sorted(people.values_list("username", "is_agent")) == [
        ("claude-demo", True),
        ("jonas", False),
        ("maria", False),
    ]
    events = BoardEvent.objects.filter(board=board)
    assert events.filter(type="ticket_created").count() == 20
    assert events.filter(type="ticket_moved").exists()
    assert events.filter(type="comment_added").exists()


@pytest.mark.django_db
def test_seed_demo_twice_makes_new_boards_and_reuses_people():
    first = run("seed_demo", "--boards", "2", "--tickets", "3")
    assert "token (shown once)" in first
    second = run("seed_demo", "--boards", "2", "--tickets", "3")
    assert "token" not in second

    names = sorted(Board.objects.values_list("name", flat=True))
    assert names == ["Platform API", "Platform API #2", "Storefront", "Storefront #2"]
    assert Ticket.objects.count() == 12
    assert User.objects.filter(username__in=["maria", "jonas", "claude-demo"]).count() == 3


@pytest.mark.django_db
def test_seed_demo_keeps_existing_users_as_they_are():
    maria = make_user("maria", first_name="Real")
    run("seed_demo", "--boards", "1", "--tickets", "2")
    maria.refresh_from_db()
    assert maria.first_name == "Real" and maria.check_password("correct horse 42")


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--boards", "0"], ["--tickets", "0"], ["--tickets", "5000"]])
def test_seed_demo_refuses_silly_sizes(args):
    with pytest.raises(CommandError):
        run("seed_demo", *args)
    assert not Board.objects.exists()


def seeded_board(seed: int, tickets: int = 40) -> Board:
    run("seed_demo", "--boards", "1", "--tickets", str(tickets), "--seed", str(seed))
    return Board.objects.order_by("-id").first()


def as_owner() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.get(username="maria"))
    return client


@pytest.mark.django_db
def test_seed_demo_gives_insights_six_weeks_of_a_real_teams_past():
    """Cycle times that are not 0 s, a cumulative flow over many days, and working
    cards of every age, not all of them red."""
    board = seeded_board(7)
    client, base = as_owner(), f"/api/statistics/boards/{board.pk}"

    performance = client.get(f"{base}/performance?days=42").json()
    cycle = performance["cycle_time"]
    assert performance["finished_count"] >= 10 and cycle["samples"] >= 10
    assert 3600 < cycle["p50_seconds"] < cycle["p85_seconds"] < cycle["p95_seconds"]
    finished_on = {ticket["finished_at"][:10] for ticket in performance["finished"]}
    assert len(finished_on) >= 8
    weekends = {
        row["date"]
        for row in performance["throughput"]
        if date.fromisoformat(row["date"]).weekday() > 4
    }
    assert not finished_on & weekends  # the reviewer finishes work on working days

    days = client.get(f"{base}/flow?days=42").json()["days"]
    levels = {tuple(sorted(day["counts"].items())) for day in days}
    assert len(levels) >= 15

    colours = client.get(f"{base}/tickets/colors").json()
    assert all(column["judged"] for column in colours["columns"])
    working = [ticket["color"] for ticket in colours["tickets"]]
    assert len(working) >= 3 and set(working) - {"red"}, working


@pytest.mark.django_db
def test_seed_demo_history_events_and_tickets_tell_the_same_past():
    board = seeded_board(3, tickets=25)
    start = timezone.now() - timedelta(days=43)
    history = TicketHistory.objects.filter(board=board)
    for ticket in Ticket.objects.filter(board=board):
        rows = history.filter(ticket_id=ticket.pk)
        assert rows.get(field_name="created").changed_at == ticket.created_at
        arrival = rows.filter(field_name="current_column").latest("changed_at", "id")
        assert (arrival.new_value, arrival.changed_at) == (
            ticket.column.name,
            ticket.column_entered_at,
        )
        assert start < ticket.created_at <= ticket.column_entered_at <= ticket.updated_at
    moments = list(
        BoardEvent.objects.filter(board=board).order_by("seq").values_list("created_at", flat=True)
    )
    assert moments == sorted(moments) and moments[0] == board.created_at < start + timedelta(days=2)
    moves = BoardEvent.objects.filter(board=board, type="ticket_moved").count()
    assert moves == history.filter(field_name="current_column").exclude(old_value=None).count()
    comments = Comment.objects.filter(ticket__board=board)
    assert comments.filter(created_at__lt=timezone.now() - timedelta(days=7)).exists()


def the_past_of(board: Board) -> dict:
    """What the seed decided, without ids or what the agent claimed just now."""
    past = {"board": board.created_at}
    tickets = Ticket.objects.filter(board=board).order_by("created_at", "id")
    past["tickets"] = list(
        tickets.values_list("title", "column__name", "priority", "assignee__username", "created_at")
    )
    rows = TicketHistory.objects.filter(
        board=board, changed_at__lt=timezone.now() - timedelta(hours=1)
    )
    past["history"] = [
        (field, None if field == "blocked_by" else (old, new), by, at)
        for field, old, new, by, at in rows.order_by("changed_at", "id").values_list(
            "field_name", "old_value", "new_value", "changed_by__username", "changed_at"
        )
    ]
    past["comments"] = list(
        Comment.objects.filter(ticket__board=board)
        .order_by("created_at", "id")
        .values_list("text", "author__username", "created_at")
    )
    return past


@pytest.mark.django_db
def test_seed_demo_with_the_same_seed_makes_the_same_board():
    day = timezone.now().date()
    first, second, other = seeded_board(5, 15), seeded_board(5, 15), seeded_board(6, 15)
    if timezone.now().date() != day:
        pytest.skip("ran across midnight UTC, where the demo's six weeks move on a day")
    assert the_past_of(first) == the_past_of(second)
    assert the_past_of(first) != the_past_of(other)
