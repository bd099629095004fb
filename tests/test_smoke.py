from boards.models import BoardEvent
from history.models import TicketHistory
from tests.factories import make_ticket


def test_ticket_created_through_api_is_listed_with_history_and_event(api, board):
    response = api.post("/api/tickets/", {"board_id": board.pk, "title": "First"}, format="json")
    assert response.status_code == 201, response.content
    ticket_id = response.json()["id"]
    listed = api.get(f"/api/tickets/?board_id={board.pk}").json()
    assert [item["id"] for item in listed["items"]] == [ticket_id]
    assert TicketHistory.objects.filter(ticket_id=ticket_id, field_name="created").exists()
    assert BoardEvent.objects.filter(board=board, type="ticket_created").count() == 1


def test_bearer_token_identifies_agent(agent_api, agent_with_token, board, user):
    make_ticket(user, board)
    response = agent_api.get("/api/users/session")
    assert response.status_code == 200
    assert response.json()["kind"] == "agent"
