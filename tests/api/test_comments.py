"""Comments: /api/comments/ticket/{id}, POST /api/comments/, PUT/DELETE /api/comments/{id}."""

import pytest
from rest_framework.test import APIClient

from boards.models import BoardEvent
from comments.models import Comment
from comments.services import TEXT_MAX, comment_create
from tests.api.envelope import assert_error, error_fields
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Commented")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def events(board, type: str) -> list[BoardEvent]:
    return list(BoardEvent.objects.filter(board=board, type=type).order_by("seq"))


# ---------------------------------------------------------------- list


def test_list_is_an_envelope_oldest_first(api, ticket, user, other_user):
    first = comment_create(actor=user, ticket_id=ticket.pk, text="first")
    second = comment_create(actor=other_user, ticket_id=ticket.pk, text="second")
    third = comment_create(actor=user, ticket_id=ticket.pk, text="third")
    comment_create(actor=user, ticket_id=make_ticket(user, ticket.board).pk, text="elsewhere")

    body = api.get(f"/api/comments/ticket/{ticket.pk}").json()

    assert body["total"] == 3 and body["total_pages"] == 1
    assert [item["id"] for item in body["items"]] == [first.pk, second.pk, third.pk]
    assert body["items"][1]["author"] == "bob"
    assert body["items"][0]["ticket_id"] == ticket.pk
    page = api.get(f"/api/comments/ticket/{ticket.pk}?page=2&page_size=2").json()
    assert [item["id"] for item in page["items"]] == [third.pk]


def test_list_costs_the_same_for_2_and_20_comments(
    api, ticket, user, django_assert_max_num_queries
):
    for index in range(20):
        comment_create(actor=user, ticket_id=ticket.pk, text=f"c{index}")
    with django_assert_max_num_queries(6):  # session, user, ticket's board, role, count, page
        assert len(api.get(f"/api/comments/ticket/{ticket.pk}").json()["items"]) == 20


def test_list_of_ticket_without_comments_is_empty(api, ticket):
    assert api.get(f"/api/comments/ticket/{ticket.pk}").json()["items"] == []


def test_list_of_unknown_ticket_is_404(api):
    assert_error(api.get("/api/comments/ticket/9999"), 404, "not_found")


def test_list_needs_login(anon, ticket):
    assert_error(anon.get(f"/api/comments/ticket/{ticket.pk}"), 401)


# ---------------------------------------------------------------- create


def test_create_attributes_the_caller(api, ticket, board):
    response = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": "Looks good"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["author"], body["text"], body["ticket_id"]) == ("alice", "Looks good", ticket.pk)
    assert body["created_at"] == body["updated_at"]
    [event] = events(board, "comment_added")
    assert event.payload["id"] == body["id"] and event.actor.username == "alice"


def test_create_by_agent_token(agent_api, ticket):
    response = agent_api.post(
        "/api/comments/", {"ticket_id": ticket.pk, "text": "on it"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["author"] == "claude-1"


def test_create_refuses_an_author_in_the_body(api, ticket):
    response = api.post(
        "/api/comments/", {"ticket_id": ticket.pk, "text": "x", "author": "bob"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert "author" in error_fields(error)
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "no ticket"}, "ticket_id"),
        ({"ticket_id": "abc", "text": "x"}, "ticket_id"),
        ({"ticket_id": 0, "text": "x"}, "ticket_id"),
        ({"ticket_id": None, "text": "x"}, "ticket_id"),
        ({"ticket_id": "TICKET", "text": ""}, "text"),
        ({"ticket_id": "TICKET", "text": "   \n "}, "text"),
        ({"ticket_id": "TICKET", "text": None}, "text"),
        ({"ticket_id": "TICKET", "text": "x" * (TEXT_MAX + 1)}, "text"),
        ({"ticket_id": "TICKET"}, "text"),
    ],
)
def test_create_refuses_bad_input(api, ticket, payload, field):
    if payload.get("ticket_id") == "TICKET":
        payload = {**payload, "ticket_id": ticket.pk}
    error = assert_error(api.post("/api/comments/", payload, format="json"), 400, "invalid")
    assert field in error_fields(error), error
    assert not Comment.objects.exists()


def test_create_accepts_text_at_the_limit(api, ticket):
    text = "x" * TEXT_MAX
    response = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": text}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["text"]) == TEXT_MAX


@pytest.mark.parametrize("ticket_id", [9999, 10**30])
def test_create_on_unknown_ticket_is_404(api, ticket_id):
    response = api.post("/api/comments/", {"ticket_id": ticket_id, "text": "x"}, format="json")
    assert_error(response, 404, "not_found")
    assert not Comment.objects.exists()


def test_create_needs_login(anon, ticket):
    assert_error(anon.post("/api/comments/", {"ticket_id": ticket.pk, "text": "x"}), 401)


# ---------------------------------------------------------------- update


def test_author_updates(api, ticket, user, board):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="draft")
    response = api.put(f"/api/comments/{comment.pk}", {"text": "final"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["text"], body["author"]) == ("final", "alice")
    assert body["updated_at"] > body["created_at"]
    comment.refresh_from_db()
    assert comment.text == "final"
    [event] = events(board, "comment_updated")
    assert event.payload["text"] == "final"


def test_patch_and_representation_round_trip(api, ticket, user):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="draft")
    body = api.get(f"/api/comments/{comment.pk}").json()
    body["text"] = "edited"
    response = api.patch(f"/api/comments/{comment.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "edited"


def test_someone_else_may_not_update(ticket, user, other_user, board):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="mine")
    response = client_for(other_user).put(
        f"/api/comments/{comment.pk}", {"text": "hijacked"}, format="json"
    )
    assert_error(response, 403, "forbidden")
    comment.refresh_from_db()
    assert comment.text == "mine"
    assert events(board, "comment_updated") == []


def test_an_agent_may_not_update_a_humans_comment(agent_api, ticket, user):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="mine")
    response = agent_api.put(f"/api/comments/{comment.pk}", {"text": "x"}, format="json")
    assert_error(response, 403, "forbidden")


def test_admin_may_update(ticket, user, admin_user, board):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="typo")
    response = client_for(admin_user).put(
        f"/api/comments/{comment.pk}", {"text": "fixed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["author"] == "alice"  # the author stays the author
    [event] = events(board, "comment_updated")
    assert event.actor == admin_user


@pytest.mark.parametrize(
    "payload", [{"text": ""}, {"text": "  "}, {"text": "x" * (TEXT_MAX + 1)}, {}]
)
def test_update_refuses_bad_text(api, ticket, user, payload):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="keep")
    error = assert_error(api.put(f"/api/comments/{comment.pk}", payload, format="json"), 400)
    assert "text" in error_fields(error)
    comment.refresh_from_db()
    assert comment.text == "keep"


def test_update_unknown_comment_is_404(api):
    assert_error(api.put("/api/comments/9999", {"text": "x"}, format="json"), 404, "not_found")


# ---------------------------------------------------------------- delete


def test_author_deletes(api, ticket, user, board):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="bye")
    assert api.delete(f"/api/comments/{comment.pk}").status_code == 204
    assert not Comment.objects.filter(pk=comment.pk).exists()
    [event] = events(board, "comment_deleted")
    assert event.payload == {"id": comment.pk, "ticket_id": ticket.pk}
    assert_error(api.delete(f"/api/comments/{comment.pk}"), 404, "not_found")


def test_someone_else_may_not_delete(ticket, user, other_user, board):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="mine")
    assert_error(client_for(other_user).delete(f"/api/comments/{comment.pk}"), 403, "forbidden")
    assert Comment.objects.filter(pk=comment.pk).exists()
    assert events(board, "comment_deleted") == []


def test_admin_may_delete(ticket, user, admin_user):
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="spam")
    assert client_for(admin_user).delete(f"/api/comments/{comment.pk}").status_code == 204
    assert not Comment.objects.filter(pk=comment.pk).exists()


def test_each_write_appends_one_event_in_order(api, ticket, board):
    comment_id = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": "a"}).json()["id"]
    api.put(f"/api/comments/{comment_id}", {"text": "b"}, format="json")
    api.delete(f"/api/comments/{comment_id}")
    comment_events = [
        event.type
        for event in BoardEvent.objects.filter(board=board, type__startswith="comment_").order_by(
            "seq"
        )
    ]
    assert comment_events == ["comment_added", "comment_updated", "comment_deleted"]


def test_comments_go_with_their_ticket(api, ticket, user):
    comment_create(actor=user, ticket_id=ticket.pk, text="x")
    assert api.delete(f"/api/tickets/{ticket.pk}").status_code == 204
    assert not Comment.objects.exists()
    assert_error(api.get(f"/api/comments/ticket/{ticket.pk}"), 404)
