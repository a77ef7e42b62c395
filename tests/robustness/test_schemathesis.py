"""schemathesis against the reference server's own OpenAPI schema: no request may get a 500.

FastAPI serves the schema at ``/api/openapi.json`` (not ``/openapi.json``). The upload routes
read a raw multipart stream, so the schema describes no body for them: schemathesis still calls
them, without files, and they must answer 400, not crash. Every call carries alice's bearer
token, so the fuzzing reaches past the authentication into the handlers. The run is bounded: a
few examples per operation and mode, a per-example deadline, no example database on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from session.conftest import USERS

from batchkit.server import EmbeddedServer, start_embedded_server

SCHEMA_PATH = "/api/openapi.json"
CONTRACT_ROUTES = {
    "/api/auth/login",
    "/api/stories/batch-upload",
    "/api/file-upload/batch-upload",
    "/api/stories/batch-create",
    "/api/stories/batch/{batch_id}/status",
    "/api/stories/options",
    "/api/stories/{story_id}",
    "/api/stories/{story_id}/generate",
}


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
    assert set(served.json()["paths"]) >= CONTRACT_ROUTES, "the schema misses a contract route"
    return schemathesis.openapi.from_url(f"{reference.url}{SCHEMA_PATH}")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=timedelta(seconds=5),
    database=None,
    # A loaded 2-core machine can make one example slow; the deadline still bounds it.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_no_request_gets_a_server_error(
    case: schemathesis.Case, reference: EmbeddedServer, bearer: dict[str, str]
) -> None:
    case.call_and_validate(base_url=reference.url, headers=bearer, checks=[not_a_server_error])
