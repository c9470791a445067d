"""Schemathesis against the published OpenAPI document of a live server: generated requests
(valid and invalid) never get a 5xx, and every answer is one the document declares, with the
declared content type, headers and body schema. A modest number of examples per operation keeps
this well under a minute; SQLite only (the PostgreSQL paths are covered by the other tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from provisioner.registry import Registry
from tests.api.conftest import SIGNUP, Live, auth, start, stop


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "registry.db"
    with Registry.open(f"sqlite:///{path}") as registry:
        live, thread = start(registry)
        # One tenant that exists, so generated paths can hit a 200 as well as a 404.
        with live.client() as http:
            http.post("/v1/tenants", json=SIGNUP, headers=auth("admin"))
        try:
            yield live
        finally:
            stop(live, thread)


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = 25  # per operation and mode


# Schemathesis' pytest integration (`from_fixture`) does not run under pytest 9, so each
# operation's strategies drive Hypothesis directly: one test per mode over every operation.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_declared_and_none_is_a_5xx(fuzz_server: Live, mode: object) -> None:
    api = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth("admin"), checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Nothing invalid can be sent to an operation without inputs (GET /healthz).
            assert mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters())


def test_the_schema_is_published(fuzz_server: Live) -> None:
    with fuzz_server.client() as http:
        document = http.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"/v1/tenants", "/v1/tenants/{slug}", "/healthz", "/readyz", "/metrics"} <= set(
        document["paths"]
    )
    post = document["paths"]["/v1/tenants"]["post"]
    assert set(post["responses"]) >= {"202", "401", "403", "409", "413", "422", "503"}
    assert "HTTPValidationError" not in str(document)  # every 422 is our error body
