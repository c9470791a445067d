"""What a signup-service engineer met using the API from the README alone: a 405 names every
method of the path, a NUL is refused with the field's name in one clean line, and a billing
event dated in the future is refused instead of blocking the tenant's later events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import SIGNUP, Live, auth

JSON = {"Content-Type": "application/json"}


def test_a_405_allows_every_method_the_path_serves(live: Live) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        one = http.put(f"/v1/tenants/{SIGNUP['slug']}", headers=auth("admin"))
        many = http.patch("/v1/tenants", headers=auth("admin"))
    assert one.status_code == 405 and one.json()["error"]["code"] == "method_not_allowed"
    assert one.headers["allow"] == "DELETE, GET"
    assert many.status_code == 405 and many.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"external_id": "INV\x001"}, "external_id: NUL characters are not allowed"),
        ({"at": "1999-01-01T00:00:00Z"}, "at: must be between the years 2000 and 2100"),
    ],
)
def test_our_validators_name_the_field_once_without_pydantic_prefix(
    live: Live, event: dict[str, str], message: str
) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        refused = http.post(
            f"/v1/tenants/{SIGNUP['slug']}/billing-events",
            json={"kind": "activity", **event},
            headers=auth("billing"),
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == message


def test_a_future_billing_event_is_refused_and_does_not_block_offboarding(live: Live) -> None:
    slug = SIGNUP["slug"]
    future = (datetime.now(UTC) + timedelta(days=9)).isoformat()
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        before = http.get(f"/v1/tenants/{slug}/events", headers=auth("reader")).json()
        refused = http.post(
            f"/v1/tenants/{slug}/billing-events",
            json={"kind": "converted", "plan": "standard", "at": future},
            headers=auth("billing"),
        )
        after = http.get(f"/v1/tenants/{slug}/events", headers=auth("reader")).json()
        offboarded = http.delete(f"/v1/tenants/{slug}", headers=auth("signup"))
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("at: ")
    assert "in the future" in refused.json()["error"]["message"]
    assert after == before  # nothing recorded
    assert offboarded.status_code == 202


def test_a_404_points_the_caller_at_the_api_not_the_cli(live: Live) -> None:
    with live.client() as http:
        tenant = http.get("/v1/tenants/nobody", headers=auth("reader"))
        incident = http.get("/v1/incidents/99", headers=auth("admin"))
    assert tenant.status_code == 404 and incident.status_code == 404
    assert tenant.json()["error"]["message"] == (
        "no tenant 'nobody' in the registry: GET /v1/tenants lists them"
    )
    assert incident.json()["error"]["message"] == "no incident 99: GET /v1/incidents lists them"
