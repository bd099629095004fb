"""The OpenAPI document at /api/schema/ and the Swagger UI at /api/docs/."""

import re
from html.parser import HTMLParser

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = [
    "/api/boards/",
    "/api/boards/{id}/",
    "/api/boards/{id}/columns/",
    "/api/boards/{id}/tickets/",
    "/api/tickets/",
    "/api/tickets/{id}/",
    "/api/tickets/{id}/move/",
    "/api/comments/",
    "/api/comments/{id}/",
    "/api/comments/ticket/{ticket_id}/",
    "/api/history/tickets/{ticket_id}/history/",
    "/api/history/tickets/{ticket_id}/transitions/",
    "/api/history/boards/{board_id}/activity/",
    "/api/history/stats/",
    "/api/users/session/",
    "/api/health/",
    "/api/status/",
]


@pytest.fixture
def schema(anon) -> dict:
    response = anon.get("/api/schema/")
    assert response.status_code == 200, response.content
    assert "openapi" in response["Content-Type"]
    return yaml.safe_load(response.content)


def test_schema_is_a_valid_openapi_document(schema):
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Agent Kanban API"


def test_schema_lists_the_api(schema):
    missing = [path for path in EXPECTED_PATHS if path not in schema["paths"]]
    assert not missing, sorted(schema["paths"])
    columns = schema["paths"]["/api/boards/{id}/columns/"]
    assert {"get", "put"} <= set(columns)
    assert {"get", "post"} <= set(schema["paths"]["/api/boards/"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/boards/{id}/"])


def test_schema_describes_bearer_auth_and_the_page_envelope(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    listing = schema["paths"]["/api/boards/"]["get"]["responses"]["200"]["content"]
    page = listing["application/json"]["schema"]
    page = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[-1]]
    assert {"items", "total", "page", "page_size", "total_pages"} <= set(page["properties"])


def test_schema_as_json(anon):
    response = anon.get("/api/schema/?format=json")
    assert response.status_code == 200
    validate_schema(response.json())


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs"])
def test_docs_load_their_assets_from_static_only(anon, path):
    response = anon.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)

    assert any(url.endswith("swagger-ui-bundle.js") for url in parser.urls), parser.urls
    # The start-up script comes from the docs view itself (the CSP forbids inline script).
    scripts = [url for url in parser.urls if url.startswith(path + "?") and "script" in url]
    assert len(scripts) == 1, parser.urls
    script = anon.get(scripts[0])
    assert script["Content-Type"].startswith("application/javascript")
    html += script.content.decode()
    for url in set(parser.urls) - set(scripts):
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file"
    # Nothing else on the page reaches for another host (CDN, fonts, analytics).
    assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", html), re.findall(r"\S*//\S+", html)
    assert '"/api/schema' in html


def test_schema_states_what_the_server_refuses(schema):
    components = schema["components"]["schemas"]
    assert components["TicketCreateRequest"]["additionalProperties"] is False
    # What a client read may be sent back: read-only fields are accepted and ignored.
    assert "id" in components["TicketUpdateRequest"]["properties"]
    parameters = {p["name"]: p for p in schema["paths"]["/api/tickets/"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"]["minimum"] == 1
    assert parameters["page_size"]["schema"]["maximum"] == 500
    assert parameters["page"]["schema"]["minimum"] == 1
    patch = schema["paths"]["/api/tickets/{id}/"]["patch"]
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert re.fullmatch(if_match["schema"]["pattern"].strip("^$"), 'W/"3"')
    for path in (
        "/api/history/tickets/{ticket_id}/history/",
        "/api/history/boards/{board_id}/activity/",
    ):
        answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["$ref"] == "#/components/schemas/PaginatedTicketHistoryList"
