"""schemathesis against the reference server's own OpenAPI schema: no request may get a 500.

FastAPI serves the schema at ``/api/openapi.json`` (not ``/openapi.json``). The upload routes
read a raw multipart stream, so the schema describes no body for them: schemathesis still calls
them, without files, and they must answer 400, not crash. Every call carries alice's bearer
token, so the fuzzing reaches past the authentication into the handlers. The run is bounded: a
few examples per operation, a per-example deadline, no example database on disk.

The cases are drawn with Hypothesis from each operation's own strategy, one test per operation.
schemathesis' pytest integration (``schemathesis.pytest.from_fixture``) is not used: it rewrites
pytest's private ``Node._nodeid``, which pytest 9.2 no longer has, so it breaks whenever pytest
changes its internals. ``test_every_operation_is_fuzzed`` keeps the list below equal to the
schema, so a new route cannot escape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from session.conftest import USERS

from batchkit.server import EmbeddedServer, start_embedded_server

SCHEMA_PATH = "/api/openapi.json"
OPERATIONS = (
    "POST /api/auth/login",
    "POST /api/stories/batch-upload",
    "POST /api/file-upload/batch-upload",
    "GET /uploads/{file_path}",
    "POST /api/stories/batch-create",
    "GET /api/stories/batch/{batch_id}/status",
    "GET /api/stories/options",
    "GET /api/stories/{story_id}",
    "POST /api/stories/{story_id}/generate",
    "GET /api/media/{story_id}/{name}",
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    with start_embedded_server(data_dir=data_dir, users=USERS) as running:
        yield running


@pytest.fixture(scope="module")
def bearer(reference: EmbeddedServer) -> dict[str, str]:
    answer = httpx.post(
        f"{reference.url}/api/auth/login",
        json={"username": "alice", "password": USERS["alice"]},
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


@pytest.fixture(scope="module")
def api_schema(reference: EmbeddedServer) -> schemathesis.BaseSchema:
    served = httpx.get(f"{reference.url}{SCHEMA_PATH}")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    return schemathesis.openapi.from_url(f"{reference.url}{SCHEMA_PATH}")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = [result.ok().label for result in api_schema.get_all_operations()]
    assert sorted(served) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_request_gets_a_server_error(
    label: str,
    api_schema: schemathesis.BaseSchema,
    reference: EmbeddedServer,
    bearer: dict[str, str],
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the schema"
    calls: list[int] = []

    @given(data=st.data())
    @settings(
        max_examples=30,
        deadline=timedelta(seconds=5),
        database=None,
        # A loaded 2-core machine can make one example slow; the deadline still bounds it.
        suppress_health_check=[HealthCheck.too_slow],
    )
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call_and_validate(
            base_url=reference.url, headers=bearer, checks=[not_a_server_error]
        )
        calls.append(response.status_code)

    fuzz()
    assert calls, f"no request was sent to {label}"
