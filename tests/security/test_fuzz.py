"""Property-based fuzzing of the whole REST API with schemathesis: every operation of the
OpenAPI document the running server publishes, called as an agent with a bearer token,
with valid and with invalid input, on random ids and on the ids of real rows.
No answer may be a 5xx, and every answer must be one the document declares, in the
declared shape (errors included: the one error envelope).

FUZZ_MAX_EXAMPLES sets the examples per operation (small by default, for CI); the
examples are derandomized, so a run is the same on every machine."""

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.server import Server, running_server

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# schemathesis's own pytest plugin does not run on pytest 9 yet; its strategies do.
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Server:
    with running_server(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


def published_schema(server: Server) -> dict:
    """The server's OpenAPI document without its multipart
    bodies: daphne's HTTP layer (Twisted) parses a multipart body itself and answers a
    malformed one with a bare 400 before the app sees it. The app's answers are what
    this test checks."""
    response = httpx.get(
        f"{server.url}/api/schema/", params={"format": "json"}, headers=server.auth, timeout=30
    )
    assert response.status_code == 200, response.text[:500]
    document = response.json()
    for path_item in document["paths"].values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            content.pop("multipart/form-data", None)
    return document


def real_ids(path: str, server: Server) -> dict[str, int]:
    """Path parameters naming rows that exist, so generated bodies reach the services."""
    ids = {"board_id": server.board_id, "ticket_id": server.ticket_ids[0]}
    ids["user_id"] = server.user_id
    if "{id}" in path:
        owner = path.split("/")[2]
        ids["id"] = {
            "boards": server.board_id,
            "tickets": server.ticket_ids[1],
            "comments": server.comment_id,
        }[owner]
    return {name: value for name, value in ids.items() if "{" + name + "}" in path}


def cases(operation, server: Server):
    ids = real_ids(operation.path, server)
    strategies = [
        operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for fixed in ([None, ids] if ids else [None])
    ]
    return st.one_of(strategies)


def test_every_operation_answers_as_documented(fuzz_server: Server) -> None:
    schema = schemathesis.openapi.from_dict(published_schema(fuzz_server))
    schema.config.update(base_url=fuzz_server.url)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ_SETTINGS
        @given(case=cases(operation, fuzz_server))
        def fuzz(case) -> None:
            case.call_and_validate(headers=fuzz_server.auth, checks=CHECKS, timeout=30)

        try:
            fuzz()
        # Every operation runs; all failures are reported (schemathesis raises groups).
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{operation.label}: {failure}")
    assert operations >= 40, operations
    assert not failures, "\n\n".join(failures)
