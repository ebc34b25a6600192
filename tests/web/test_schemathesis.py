"""Property test over the API's OpenAPI document (schemathesis): every operation, with data that fits
the schema and data that does not, signed in as an admin (API token), must never answer with a
server error. It runs on SQLite and on PostgreSQL, which refuses what SQLite takes (32-bit ids, NUL
characters in text).

The app runs without its import worker: uploads (``POST /imports``) and ``POST /conversations``
are fuzzed like the rest, but only queue a job, so the fuzz never starts the checking work itself.

Last run on the 2-core machine: 34 operations, 1288 cases per database, no server error, about
40 s per database. Before the fixes it found ids past 64 bits (SQLite) and past 32 bits
(PostgreSQL), impossible ISO weeks in sampling, NUL characters in text (PostgreSQL) and a new user
given an agent code already taken.
"""

from __future__ import annotations

import time

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is part of the test extra")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from guifan.web.app import create_app  # noqa: E402
from tests.web.conftest import PASSWORD  # noqa: E402

EXAMPLES = 25  # per operation and mode, derandomized: the same cases on every run


def test_no_operation_answers_with_a_server_error(db_url):
    app = create_app(db_url, secret="fuzz", worker=False)
    workspace = app.state.workspace
    with workspace.sessions() as session:
        admin = workspace.add_user(session, "admin", PASSWORD, "admin")
        token = workspace.create_token(session, admin, "fuzz")
        session.commit()
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    server_errors: list[str] = []
    cases = operations = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                nonlocal cases
                cases += 1
                try:
                    # The test client re-raises what the app did not handle (after the 500 response).
                    response = case.call(headers=auth)
                    case.validate_response(response, checks=[not_a_server_error])
                except Exception as failure:
                    server_errors.append(f"{operation.label} [{mode}]: {failure!r:.300}\n{case.as_curl_command()[:600]}")

            try:
                call()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body): no negative cases
                assert mode is GenerationMode.NEGATIVE
    print(f"\nschemathesis ({db_url.split(':')[0]}): {operations} operations, {cases} cases, "
          f"{len(server_errors)} server errors, {time.monotonic() - started:.0f} s")
    assert not server_errors, "\n\n".join(server_errors)
