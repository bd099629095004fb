"""The bearer lookup's SQL (agents/token_lookup.py) against the rule it is written from,
`usable_tokens`: the same tokens authenticate, each with its user as stored."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.authentication import user_for_token
from agents.models import ApiToken
from agents.services import hash_token, token_issue, token_revoke, usable_tokens
from agents.token_lookup import usable_token_with_user
from tests.factories import make_agent, make_board, make_user

pytestmark = pytest.mark.django_db


def issue(user, name: str, **extra) -> str:
    return token_issue(actor=None, user=user, name=name, **extra).secret


def test_the_lookup_lets_in_exactly_the_tokens_usable_tokens_does():
    now = timezone.now()
    person = make_user("lookup-person")
    leaving = make_user("lookup-leaving")
    secrets = {
        "plain": issue(person, "plain"),
        "future expiry": issue(person, "future", expires_at=now + timedelta(days=1)),
        "expired": issue(person, "expired", expires_at=now + timedelta(days=1)),
        "revoked": issue(person, "revoked"),
        "inactive user": issue(leaving, "inactive"),
    }
    expired = ApiToken.objects.filter(key_hash=hash_token(secrets["expired"]))
    expired.update(expires_at=now - timedelta(seconds=1))
    revoked = ApiToken.objects.get(key_hash=hash_token(secrets["revoked"]))
    token_revoke(actor=None, token=revoked)
    leaving.is_active = False
    leaving.save(update_fields=["is_active"])

    usable = set(usable_tokens().values_list("key_hash", flat=True))
    let_in = {
        name
        for name, secret in secrets.items()
        if usable_token_with_user(hash_token(secret), timezone.now()) is not None
    }
    assert let_in == {"plain", "future expiry"}
    assert let_in == {name for name, secret in secrets.items() if hash_token(secret) in usable}
    assert usable_token_with_user(hash_token("never issued"), timezone.now()) is None


def test_the_user_and_token_come_back_as_the_orm_reads_them():
    _, secret = make_agent("lookup-agent")
    user, token = user_for_token(secret)
    stored = ApiToken.objects.select_related("user").get(pk=token.pk)
    for field in ApiToken._meta.concrete_fields:
        assert getattr(token, field.attname) == getattr(stored, field.attname), field.name
    for field in type(user)._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(stored.user, field.attname), field.name
    assert timezone.is_aware(token.created_at) and timezone.is_aware(user.date_joined)
    assert user.api_token is token and token.user is user


def test_board_limits_come_with_the_token():
    agent, secret = make_agent("lookup-limited")
    board = make_board(agent, "Limited")
    _, open_token = user_for_token(secret)
    assert not open_token.has_board_limits
    limited = token_issue(actor=None, user=agent, name="one board", board_ids=[board.pk])
    _, token = user_for_token(limited.secret)
    assert token.has_board_limits


def test_authenticating_is_one_statement():
    _, secret = make_agent("lookup-count")
    user_for_token(secret)  # the first use is recorded (a write)
    with CaptureQueriesContext(connection) as queries:
        user, _ = user_for_token(secret)
    assert user is not None
    assert len(queries) == 1, [query["sql"] for query in queries]
