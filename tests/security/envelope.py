"""The error envelope of design rule 7, allowing the extra context some errors carry
(current_version on a conflict, the request id)."""

ENVELOPE_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors"}


def assert_error(response, status: int | None = None) -> dict:
    """A 4xx in the one envelope, as JSON; returns its `error` object."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if status is not None:
        assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= ENVELOPE_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["validation_errors"], list)
    return error
