"""Notices: drafted from the templates with the facts the law asks for, sent only as reviewed,
through the signed webhook delivery to a real local receiver (the mail service), every notice
and delivery on the timeline. A deleted tenant is still reached through the one contact kept
at its deletion, for as long as the data file says, and not after."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from provisioner.registry import Registry
from provisioner.registry import incidents as store
from provisioner.registry.signup import admin_email, signup
from provisioner.spec import TenantSpec
from tests.registry.cli_helpers import at, ok_json, run
from tests.worker.engine_double import DoubleEngine
from tests.worker.test_webhooks import SECRET, Receiver
from tests.worker.test_worker import make_worker

pytestmark = pytest.mark.usefixtures("cli_env")


def _now() -> str:  # signups happen at the wall clock: discover after them
    return at(datetime.now(UTC))


def _signup(registry: Registry, slug: str, location: str, email: str) -> None:
    answer = signup(
        registry, TenantSpec.create(slug, location, "trial"), email, actor="api:signup",
        key=None, request_hash=slug, render=lambda t: {}, conflict=lambda e: {},
    )  # fmt: skip
    assert answer.status_code == 202


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Any:
    receiver = Receiver([])
    monkeypatch.setenv("PROVISIONER_MAIL_URL", receiver.url)
    monkeypatch.setenv("PROVISIONER_MAIL_SECRET", SECRET)
    monkeypatch.setenv("PROVISIONER_INCIDENT_CONTACT", "security@vendor.example")
    yield receiver
    receiver.server.shutdown()


def _delete_through_the_worker(registry: Registry, slug: str, tmp_path: Any) -> datetime:
    """The retention clock decides, a worker destroys the stack and records the evidence."""
    created = registry.get_tenant(slug).created_at
    registry.retention_apply(created + timedelta(days=27))
    worker = make_worker(registry, DoubleEngine(tmp_path / "stacks"))
    worker.run(once=True)
    tenant = registry.get_tenant(slug)
    assert tenant.observed_state == "deleted"
    return tenant.observed_at or created


def test_customer_and_authority_notices_reach_the_mail_service_signed(
    registry: Registry, mail: Receiver, tmp_path: Any
) -> None:
    _signup(registry, "acme", "de", "admin@acme.example")
    _signup(registry, "oldco", "ie", "boss@oldco.example")
    deleted_at = _delete_through_the_worker(registry, "oldco", tmp_path)
    assert admin_email(registry, "oldco") is None  # tenant data went with the rest
    ok_json("tenants", "create", "nomail", "--location", "de", "--plan", "standard")
    incident = str(ok_json("incident", "open", "--title", "Snapshot exposed", "--discovered-at",
                           at(datetime.now(UTC)), "--regions", "eu-central-1",
                           "--window-start", at(deleted_at - timedelta(days=1)))["id"])  # fmt: skip
    ok_json("incident", "assess", incident, "--notifiable", "yes", "--reason", "CRM rows read",
            "--nature", "a database snapshot was shared publicly",
            "--categories", "contact names and e-mail addresses")  # fmt: skip

    refused = run("incident", "notify", incident, "--audience", "customers", "--send")
    assert refused.exit_code == 2 and "reviewed draft" in refused.stderr
    assert mail.received == []

    drafts = ok_json("incident", "notify", incident, "--audience", "customers")["drafts"]
    by_tenant = {d["recipient"]: d for d in drafts}
    assert {k: v["to"] for k, v in by_tenant.items()} == {
        "acme": "admin@acme.example", "oldco": "boss@oldco.example", "nomail": None,
    }  # fmt: skip
    body = by_tenant["oldco"]["body"]
    for fact in ("a database snapshot was shared publicly", "contact names and e-mail addresses",
                 "security@vendor.example", "was deleted on", "3 customer instance(s)"):
        assert fact in body, fact

    sent = run("incident", "notify", incident, "--audience", "customers", "--send", "-o", "json")
    assert sent.exit_code == 1  # one customer could not be reached: said, not hidden
    result = json.loads(sent.stdout)
    assert (sorted(result["sent"]), result["no_contact"]) == (["acme", "oldco"], ["nomail"])
    assert all(r["valid"] for r in mail.received)
    assert sorted(r["body"]["to"] for r in mail.received) == [
        "admin@acme.example", "boss@oldco.example"
    ]  # fmt: skip
    assert {r["body"]["body"] for r in mail.received} == {
        by_tenant["acme"]["body"], by_tenant["oldco"]["body"]
    }  # fmt: skip

    again = run("incident", "notify", incident, "--audience", "customers", "--send", "-o", "json")
    assert json.loads(again.stdout)["skipped"] == ["acme", "oldco"] and len(mail.received) == 2

    ok_json("incident", "notify", incident, "--audience", "authority:EU")
    ok_json("incident", "notify", incident, "--audience", "authority:EU", "--send")
    authority = mail.received[-1]["body"]
    assert authority["authority"].startswith("the lead supervisory authority")
    assert "3 customer instance(s) in EU" in authority["body"] and authority["to"] is None

    shown = ok_json("incident", "show", incident)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds.count("notice.sent") == 3 and kinds.count("notice.delivered") == 3
    assert kinds.count("notice.no-contact") == 1 and kinds.count("notice.drafted") == 2
    deadlines = {(d["audience"], d["rule"]): d["status"] for d in shown["deadlines"]}
    assert deadlines[("authority:EU", "eu.gdpr-art33")] == "met"
    assert deadlines[("customers", "promise.customers-72h")] == "open"  # nomail not told yet
    assert shown["chain"]["intact"]
    assert "admin@acme.example" not in json.dumps(shown)  # contacts stay out of the timeline


def test_a_failed_delivery_is_on_the_timeline_and_retried_without_a_second_notice(
    registry: Registry, mail: Receiver
) -> None:
    _signup(registry, "acme", "de", "admin@acme.example")
    incident = str(ok_json("incident", "open", "--title", "x", "--discovered-at",
                           _now(), "--locations", "de")["id"])  # fmt: skip
    mail.statuses[:] = [503]
    ok_json("incident", "notify", incident, "--audience", "customers")
    first = run("incident", "notify", incident, "--audience", "customers", "--send", "-o", "json")
    assert first.exit_code == 1, first.stdout
    [outcome] = json.loads(first.stdout)["deliveries"]
    assert (outcome["status"], outcome["status_code"]) == ("pending", 503)
    with registry.write() as conn:  # the retry comes due
        conn.execute(sa.text("UPDATE webhook_deliveries SET next_attempt_at = created_at"))
    second = run("incident", "notify", incident, "--audience", "customers", "--send", "-o", "json")
    assert second.exit_code == 0
    assert [r["delivery"] for r in mail.received] == [str(outcome["delivery"])] * 2
    kinds = [e["kind"] for e in ok_json("incident", "show", incident)["timeline"]]
    assert kinds[-3:] == ["notice.sent", "notice.failed", "notice.delivered"]


def test_without_the_mail_service_configured_nothing_is_sent(registry: Registry) -> None:
    _signup(registry, "acme", "de", "admin@acme.example")
    incident = str(ok_json("incident", "open", "--title", "x", "--discovered-at",
                           _now(), "--locations", "de")["id"])  # fmt: skip
    result = run("incident", "notify", incident, "--audience", "authority:EU", "--send")
    assert result.exit_code == 2 and "PROVISIONER_INCIDENT_CONTACT" in result.stderr
    bad = run("incident", "notify", incident, "--audience", "authority:JP")
    assert bad.exit_code == 2


def test_kept_contact_lasts_its_keep_period_and_then_goes(
    registry: Registry, tmp_path: Any, mail: Receiver
) -> None:
    _signup(registry, "oldco", "ie", "boss@oldco.example")
    deleted_at = _delete_through_the_worker(registry, "oldco", tmp_path)
    keep_until = deleted_at + timedelta(days=365)
    assert store.contacts(registry, ["oldco"], keep_until) == {"oldco": "boss@oldco.example"}
    assert store.contacts(registry, ["oldco"], keep_until + timedelta(microseconds=1)) == {}
    # An open incident that affects it keeps it past the date; closing lets it go.
    incident = ok_json("incident", "open", "--title", "x", "--discovered-at", at(deleted_at),
                       "--tenants", "oldco")["id"]  # fmt: skip
    ok_json("incident", "notify", str(incident), "--audience", "customers")
    ok_json("incident", "notify", str(incident), "--audience", "customers", "--send")
    assert [r["body"]["to"] for r in mail.received] == ["boss@oldco.example"]
    late = keep_until + timedelta(days=1)
    assert ok_json("retention", "apply", "--at", at(late))["notice_contacts_purged"] == 0
    ok_json("incident", "close", str(incident), "--root-cause", "misconfigured ACL")
    assert ok_json("retention", "apply", "--at", at(late))["notice_contacts_purged"] == 1
    with registry.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notice_contacts")).scalar() == 0
        payloads = conn.execute(sa.text("SELECT payload FROM webhook_deliveries")).scalars()
        assert "boss@oldco.example" not in json.dumps([p for p in payloads], default=str)
    # The delivery itself stays on record: who was told, when, with what result.
    kinds = [e["kind"] for e in ok_json("incident", "show", str(incident))["timeline"]]
    assert "notice.delivered" in kinds
