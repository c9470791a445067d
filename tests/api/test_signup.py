"""The signup API over HTTP: signup and its idempotency, reading a tenant and its events,
billing events, offboarding, health, readiness and metrics."""

from __future__ import annotations

import sqlalchemy as sa

from provisioner.registry import Registry
from provisioner.registry.work_models import signups
from tests.api.conftest import SIGNUP, Live, auth


def test_signup_answers_202_with_the_tenant_and_its_status_url(live: Live) -> None:
    with live.client() as http:
        response = http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        assert response.status_code == 202
        body = response.json()
        assert response.headers["location"] == body["status_url"] == "/v1/tenants/acme"
        assert body["status"] == "pending" and body["desired_state"] == "active"
        assert (body["location"], body["region"], body["plan"]) == ("de", "eu-central-1", "trial")
        shown = http.get(body["status_url"], headers=auth("reader")).json()
        assert shown["slug"] == "acme" and shown["generation"] == 1
        events = http.get("/v1/tenants/acme/events", headers=auth("reader")).json()["events"]
        assert [(e["kind"], e["actor"]) for e in events] == [("created", "api:signup")]
    tenant = live.registry.get_tenant("acme")
    assert tenant.desired_state == "active" and tenant.trial_ends_at is not None
    with live.registry.read() as conn:
        email = conn.execute(sa.select(signups.c.admin_email)).scalar_one()
    assert email == "ops@acme.example"


def test_same_key_and_body_get_the_same_answer(live: Live) -> None:
    headers = {**auth("signup"), "Idempotency-Key": "signup-1"}
    with live.client() as http:
        first = http.post("/v1/tenants", json=SIGNUP, headers=headers)
        again = http.post("/v1/tenants", json=dict(reversed(SIGNUP.items())), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(live.registry.list_tenants()) == 1


def test_same_key_with_another_body_is_a_conflict(live: Live) -> None:
    headers = {**auth("signup"), "Idempotency-Key": "signup-1"}
    with live.client() as http:
        assert http.post("/v1/tenants", json=SIGNUP, headers=headers).status_code == 202
        other = http.post("/v1/tenants", json={**SIGNUP, "slug": "globex"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert [t.slug for t in live.registry.list_tenants()] == ["acme"]


def test_an_existing_slug_with_another_key_is_a_conflict(live: Live) -> None:
    with live.client() as http:
        ok = http.post(
            "/v1/tenants", json=SIGNUP, headers={**auth("signup"), "Idempotency-Key": "a"}
        )
        taken = http.post(
            "/v1/tenants", json=SIGNUP, headers={**auth("signup"), "Idempotency-Key": "b"}
        )
        retried = http.post(
            "/v1/tenants", json=SIGNUP, headers={**auth("signup"), "Idempotency-Key": "b"}
        )
    assert ok.status_code == 202
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "tenant_exists"
    assert retried.status_code == 409 and retried.json() == taken.json()


def test_invalid_signups_are_refused_with_the_reason(live: Live) -> None:
    cases = [
        ({**SIGNUP, "slug": "admin"}, "reserved"),
        ({**SIGNUP, "slug": "a--b"}, "single hyphens"),
        ({**SIGNUP, "location": "mars"}, "unknown location"),
        ({**SIGNUP, "plan": "platinum"}, "unknown plan"),
        ({**SIGNUP, "admin_email": "nobody"}, "admin_email"),
        ({**SIGNUP, "extra": 1}, "extra"),
        ({k: v for k, v in SIGNUP.items() if k != "plan"}, "plan"),
    ]
    with live.client() as http:
        for body, reason in cases:
            response = http.post("/v1/tenants", json=body, headers=auth("signup"))
            assert response.status_code == 422, body
            error = response.json()["error"]
            assert error["code"] == "validation_error" and reason in error["message"], error
    assert live.registry.list_tenants() == []


def test_billing_events_move_the_lifecycle(live: Live) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        converted = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "converted", "plan": "standard", "external_id": "evt_1"},
            headers=auth("billing"),
        )
        assert converted.status_code == 200, converted.text
        assert converted.json()["tenant"]["plan"] == "standard"
        assert converted.json()["billing_record_id"] is not None
        duplicate = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "converted", "plan": "standard", "external_id": "evt_1"},
            headers=auth("billing"),
        )
        assert duplicate.status_code == 200 and duplicate.json()["duplicate"] is True
        # The stored answer: the same record, not a second one.
        assert duplicate.json()["billing_record_id"] == converted.json()["billing_record_id"]
        refused = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "payment_recovered"},
            headers=auth("billing"),
        )
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "illegal_transition"
        missing = http.post(
            "/v1/tenants/nobody/billing-events", json={"kind": "activity"}, headers=auth("billing")
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "tenant_not_found"


def test_offboarding_follows_the_retention_rules(live: Live) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        trial = http.delete("/v1/tenants/acme", headers=auth("signup"))
        assert trial.status_code == 202
        assert trial.json()["tenant"]["desired_state"] == "suspended"  # deleted later, not now
        again = http.delete("/v1/tenants/acme", headers=auth("signup"))
        assert again.status_code == 202 and again.json()["tenant"]["desired_state"] == "suspended"

        http.post("/v1/tenants", json={**SIGNUP, "slug": "globex"}, headers=auth("signup"))
        http.post(
            "/v1/tenants/globex/billing-events",
            json={"kind": "converted"},
            headers=auth("billing"),
        )
        paid = http.delete("/v1/tenants/globex", headers=auth("signup"))
        assert paid.status_code == 202
        assert paid.json()["tenant"]["desired_state"] == "closed"
        assert "90 days" in paid.json()["note"]
    assert live.registry.get_tenant("globex").deleted_at is None


def test_health_readiness_and_metrics(live: Live) -> None:
    with live.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ok"}
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        http.get("/v1/tenants/acme", headers=auth("reader"))
        text = http.get("/metrics").text
    assert (
        'provisioner_api_requests_total{method="POST",route="/v1/tenants",status="202"} 1.0' in text
    )
    assert 'route="/v1/tenants/{slug}"' in text and "acme" not in text  # templates, not slugs
    assert 'provisioner_tenants{desired_state="active",observed_state="none"} 1.0' in text


def test_readyz_is_503_when_the_registry_is_unreachable() -> None:
    from provisioner.registry import db
    from tests.api.conftest import start, stop

    unreachable = Registry(db.create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    server, thread = start(unreachable)
    try:
        with server.client() as http:
            response = http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "not_ready"
            assert http.get("/healthz").status_code == 200
            failing = http.get("/v1/tenants/acme", headers=auth("reader"))
            assert failing.status_code == 503 and failing.json()["error"]["code"] == "not_ready"
    finally:
        stop(server, thread)


def test_an_external_id_reused_for_another_event_is_refused_not_dropped(live: Live) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        converted = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "converted", "plan": "standard", "external_id": "INV-1"},
            headers=auth("billing"),
        )
        assert converted.status_code == 200, converted.text
        reused = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "cancelled", "external_id": "INV-1"},
            headers=auth("billing"),
        )
        assert reused.status_code == 409, reused.text
        error = reused.json()["error"]
        assert error["code"] == "external_id_reused" and "INV-1" in error["message"]
        assert "differs in event" in error["message"]
    tenant = live.registry.get_tenant("acme")
    assert tenant.desired_state == "active" and tenant.plan == "standard"
    assert [r.kind for r in live.registry.billing_records("acme")] == ["converted"]
