"""Checks shared by the API tests."""

ENVELOPE_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors", "request_id"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is an error in the one envelope; returns its `error` object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["validation_errors"], list)
    if code is not None:
        assert error["code"] == code, error
    return error


def error_fields(error: dict) -> set[str]:
    return {row["field"] for row in error["validation_errors"]}
