"""`GET /v1/incidents` and `GET /v1/incidents/{id}` under a real uvicorn server: the scope
`incidents:read` is required, and the document is the CLI's `incident show -o json`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from provisioner.regions import catalogue
from provisioner.registry import Registry
from provisioner.registry import incidents as store
from provisioner.spec import TenantSpec
from tests.api.conftest import TOKEN_CONFIG, Live, auth, start, stop

RESPONDER = "i" * 40
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FOUND = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def live(registry: Registry) -> Iterator[Live]:
    server, thread = start(
        registry, token_config=f"{TOKEN_CONFIG}\nresponder:{RESPONDER}:incidents:read"
    )
    try:
        yield server
    finally:
        stop(server, thread)


def _open(registry: Registry) -> int:
    registry.create_tenant(TenantSpec.create("acme", "de", "standard"), actor="test", at=T0)
    registry.create_tenant(TenantSpec.create("ozzie", "au", "standard"), actor="test", at=T0)
    new = store.NewIncident("Snapshot exposed", "breach", FOUND, ("eu-central-1",), (),
                            None, FOUND, False)  # fmt: skip
    incident, _ = store.open_incident(registry, new, catalogue(), actor="test", at=FOUND)
    return incident.id


def test_incidents_need_their_scope(live: Live) -> None:
    with live.client() as client:
        assert client.get("/v1/incidents").status_code == 401
        denied = client.get("/v1/incidents", headers=auth("reader"))
        assert denied.status_code == 403
        assert "incidents:read" in denied.json()["error"]["message"]
        allowed = client.get("/v1/incidents", headers={"Authorization": f"Bearer {RESPONDER}"})
        assert allowed.status_code == 200 and allowed.json() == {"incidents": []}
        assert client.get("/v1/incidents", headers=auth("admin")).is_success


def test_list_and_show_carry_the_affected_deadlines_and_timeline(
    live: Live, registry: Registry
) -> None:
    incident = _open(registry)
    headers = {"Authorization": f"Bearer {RESPONDER}"}
    with live.client(headers=headers) as client:
        [row] = client.get("/v1/incidents", params={"status": "open"}).json()["incidents"]
        assert (row["id"], row["affected"]) == (incident, 1)
        assert client.get("/v1/incidents", params={"status": "closed"}).json()["incidents"] == []
        doc = client.get(f"/v1/incidents/{incident}").json()
        assert doc["id"] == incident and doc["discovered_at"] == "2026-04-02T09:00:00Z"
        assert [(a["tenant"], a["jurisdiction"]) for a in doc["affected"]] == [("acme", "EU")]
        assert {(d["audience"], d["due"]) for d in doc["deadlines"]} >= {
            ("customers", "2026-04-05T09:00:00Z"), ("authority:EU", "2026-04-05T09:00:00Z")
        }  # fmt: skip
        assert [e["kind"] for e in doc["timeline"]] == ["opened"] and doc["chain"]["intact"]
        missing = client.get("/v1/incidents/999")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "incident_not_found"
        assert client.get("/v1/incidents/0").status_code == 422
