"""create_agent, create_token and seed_demo, called as operators call them."""

import io
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from agents.models import ApiToken, User
from agents.services import hash_token
from boards.models import Board, BoardEvent
from comments.models import Comment
from history.models import TicketHistory
from tests.factories import make_user
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


# ---------------------------------------------------------------- create_token


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
