"""The security headers every response carries, in every environment."""

import pytest

from core.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def assert_secure_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.parametrize(
    "path",
    ["/login/", "/api/health/simple", "/api/schema/", "/api/docs/", "/api/no-such-thing"],
)
def test_anonymous_answers_carry_the_headers(anon, path):
    assert_secure_headers(anon.get(path))


def test_pages_and_api_answers_carry_the_headers(api, board):
    for path in ["/", f"/boards/{board.pk}/", "/api/boards/", f"/api/boards/{board.pk}"]:
        response = api.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert_secure_headers(response)


def test_the_policy_allows_no_inline_script_and_no_framing():
    directives = dict(
        part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";") if part.strip()
    )
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"


def test_the_swagger_ui_loads_its_start_up_script_as_a_file(anon):
    page = anon.get("/api/docs/").content.decode()
    assert "<script>" not in page
    script = anon.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
