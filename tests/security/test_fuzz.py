"""Property-based fuzzing of the whole REST API with schemathesis: every operation of the
OpenAPI document the running server publishes, called as an agent with a bearer token,
with valid and with invalid input, on random ids and on the ids of real rows.
No answer may be a 5xx, and every answer must be one the document declares, in the
declared shape (errors included: the one error envelope).

FUZZ_MAX_EXAMPLES sets the examples per operation (small by default, for CI); the
examples are derandomized, so a run is the same on every machine."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

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

from tests.realtime.procs import ROOT
from tests.security.fuzz_hooks import spare_own_token
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


@pytest.fixture
def fuzz_server(tmp_path) -> Server:
    """A server of each test's own: the fuzzer deletes what it finds. It delivers no
    webhooks: the fuzzer's go to a public address (tests/security/fuzz_hooks.py)."""
    with running_server(tmp_path, WEBHOOKS_DELIVER_IN_PROCESS="false") as server:
        yield server


def published_schema(server: Server, *, json_bodies_only: bool = False) -> dict:
    """The server's OpenAPI document without its multipart bodies: daphne's HTTP layer
    (Twisted) parses a multipart body itself and answers a malformed one with a bare 400
    before the app sees it, and the app's answers are what these tests check.

    `json_bodies_only` drops the form-encoded bodies too: a form encoding cannot carry
    JSON's types (a list of one, null, an empty string apart from an absent field), so
    the fuzzer's idea of valid form input is not the API's."""
    response = httpx.get(
        f"{server.url}/api/schema/", params={"format": "json"}, headers=server.auth, timeout=30
    )
    assert response.status_code == 200, response.text[:500]
    document = response.json()
    for path_item in document["paths"].values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type in list(content):
                if media_type == "multipart/form-data" or (
                    json_bodies_only and media_type != "application/json"
                ):
                    content.pop(media_type)
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
            spare_own_token(case, fuzz_server.token_id, fuzz_server.spare_token_id)
            case.call_and_validate(headers=fuzz_server.auth, checks=CHECKS, timeout=30)

        try:
            fuzz()
        # Every operation runs; all failures are reported (schemathesis raises groups).
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{operation.label}: {failure}")
    assert operations >= 40, operations
    still_authenticated = httpx.get(f"{fuzz_server.url}/api/tokens/", headers=fuzz_server.auth)
    assert still_authenticated.status_code == 200, "the fuzzer lost its token: a hollow run"
    assert not failures, "\n\n".join(failures)


# Checks that judge the request schema's precision rather than the server's answers.
# The rules no document can state (a column of this board, a user who exists, X-Claim-Token
# and the body's claim_token agree, ...) are kept by steering positive cases
# (tests/security/fuzz_hooks.py); these two stay out of CI until the document states the
# rest: field rules it can state but does not yet (docs/security.md § Fuzzing).
REQUEST_PRECISION_CHECKS = "positive_data_acceptance,negative_data_rejection"


def test_schemathesis_with_every_check_and_stateful_links(fuzz_server: Server, tmp_path) -> None:
    """The schemathesis command itself, every phase (coverage, fuzzing, and stateful
    sequences that create, read and delete, so a deleted resource still served fails
    use_after_free) and every check but the request-precision two."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(published_schema(fuzz_server, json_bodies_only=True)))
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.security.fuzz_hooks",
        "FUZZ_OWN_TOKEN_ID": str(fuzz_server.token_id),
        "FUZZ_SPARE_TOKEN_ID": str(fuzz_server.spare_token_id),
        "FUZZ_URL": fuzz_server.url,
        "FUZZ_SECRET": fuzz_server.secret,
        "FUZZ_USER_ID": str(fuzz_server.user_id),
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            str(document),
            f"--url={fuzz_server.url}",
            f"--header=Authorization: Bearer {fuzz_server.secret}",
            "--checks=all",
            f"--exclude-checks={REQUEST_PRECISION_CHECKS}",
            # The server refuses NUL characters everywhere ("Null characters are not allowed.").
            "--generation-allow-x00=false",
            f"--max-examples={MAX_EXAMPLES}",
            "--seed=2",
            "--workers=1",
            "--no-color",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = run.stdout[-20000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    tested = re.search(r"Tested: (\d+)", run.stdout)
    passed = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert tested and int(tested.group(1)) >= 60, report
    assert passed and passed.group(1) == passed.group(2), report
    assert "Stateful" in run.stdout and "Authentication failed" not in run.stdout, report
