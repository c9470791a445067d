"""GET /v1/rollouts, /v1/rollouts/{id}, /v1/tenants/{slug}/release, and rollout.* webhooks."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from provisioner.api import Tokens, create_app
from provisioner.registry import Registry
from provisioner.registry import rollouts as store
from provisioner.registry import webhooks as deliveries
from provisioner.registry.tenant_say import set_facts
from provisioner.registry.work_models import webhook_deliveries
from provisioner.rollout import service
from provisioner.rollout.strategy import Strategy
from tests.api.conftest import TOKEN_CONFIG, auth
from tests.rollout.conftest import add_tenants, classes, release

HOOK = "http://127.0.0.1:9/hooks"


def test_rollout_routes_and_webhooks(registry: Registry) -> None:
    add_tenants(registry, "acme-de", "bravo-de", plan="standard")
    now = datetime.now(UTC)
    set_facts(registry, "bravo-de", "legal-hold", {"legal_hold": "case 7"}, actor="t",
              reason="", now=now)
    r1 = release(registry, 1)
    rollout_id = service.start(registry, r1.id, Strategy.parse(), planner=classes(registry),
                               actor="cli:alice", reason="cve fix", approve_dangerous=None,
                               now=now, webhook_url=HOOK)
    store.operate(registry, rollout_id, "pause", actor="cli:alice", reason="lunch", now=now,
                  webhook_url=HOOK)
    client = TestClient(create_app(registry, Tokens.parse(TOKEN_CONFIG, "test")))

    listed = client.get("/v1/rollouts", headers=auth("reader"))
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["rollouts"]] == [rollout_id]
    one = client.get(f"/v1/rollouts/{rollout_id}", headers=auth("reader")).json()
    assert one["state"] == "paused" and one["release"] == r1.id and one["reason"] == "cve fix"
    assert [e["kind"] for e in one["events"]] == ["rollout.started", "rollout.paused"]
    missing = client.get("/v1/rollouts/999", headers=auth("reader"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "rollout_not_found"
    assert client.get("/v1/rollouts").status_code == 401

    tenant = client.get("/v1/tenants/bravo-de/release", headers=auth("reader")).json()
    assert tenant["legal_hold"] == "case 7" and tenant["release"] is None
    assert tenant["rollout"]["id"] == rollout_id and "paused" in tenant["waiting"]
    assert client.get("/v1/tenants/nobody/release", headers=auth("reader")).status_code == 404

    sent = deliveries.deliveries(registry, f"rollout-{rollout_id}")
    assert [d["event"] for d in sent] == ["rollout.started", "rollout.paused"]
    assert sent[0]["url"] == HOOK and sent[0]["status"] == "pending"
    with registry.read() as conn:
        payloads = conn.execute(
            sa.select(webhook_deliveries.c.payload).order_by(webhook_deliveries.c.id)
        ).scalars().all()
    assert payloads[0]["rollout"] == rollout_id and payloads[0]["reason"] == "cve fix"
    assert payloads[1]["event"] == "rollout.paused" and payloads[1]["from"] == "running"
