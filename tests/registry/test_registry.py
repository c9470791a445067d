"""The Registry facade on each database: opening and migrating, records in and out, the
append-only audit trail, what the reconciler reports back, tombstones and billing records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from provisioner.errors import (
    EXIT_USAGE,
    EnvironmentProblem,
    IllegalTransition,
    TenantExists,
    TenantNotFound,
    UsageError,
)
from provisioner.registry import Registry
from provisioner.registry.db import current_revision, head_revision, script_head
from provisioner.retention import iso
from provisioner.spec import TenantSpec
from tests.registry.conftest import T0

DAY = timedelta(days=1)


def spec(slug: str = "acme", location: str = "de", plan: str = "standard") -> TenantSpec:
    return TenantSpec.create(slug, location, plan)


def test_open_migrates_to_head_and_reopening_is_a_no_op(db_url: str) -> None:
    with Registry.open(db_url) as reg:
        assert current_revision(reg.engine) == head_revision()
        reg.create_tenant(spec(), actor="t", at=T0)
    with Registry.open(db_url) as reg:
        assert [t.slug for t in reg.list_tenants()] == ["acme"]


def test_the_fast_head_check_agrees_with_alembic() -> None:
    assert script_head() == head_revision()


def test_default_url_is_sqlite_wal_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVISIONER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    with Registry.open() as reg:
        assert reg.url == f"sqlite:///{tmp_path / 'home' / 'registry.db'}"
        with reg.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_database_url_from_the_environment(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", db_url)
    with Registry.open() as reg:
        assert reg.engine.url.get_backend_name() == sa.make_url(db_url).get_backend_name()


def test_unreachable_server_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match="cannot reach the registry database"):
        Registry.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_malformed_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not valid"):
        Registry.open("not a url")


def test_records_round_trip_as_aware_utc_instants(registry: Registry) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    created = registry.create_tenant(spec(plan="trial"), actor="t", at=at, trial_days=3)
    fetched = registry.get_tenant("acme")
    assert fetched == created
    assert fetched.created_at == at and fetched.created_at.tzinfo is not None
    assert fetched.trial_ends_at == at + 3 * DAY
    assert (fetched.location, fetched.region, fetched.plan) == ("de", "eu-central-1", "trial")
    assert fetched.desired_state == "active" and fetched.generation == 1


def test_unknown_and_duplicate_tenants(registry: Registry) -> None:
    assert registry.find_tenant("acme") is None
    with pytest.raises(TenantNotFound) as info:
        registry.get_tenant("acme")
    assert info.value.exit_code == EXIT_USAGE
    with pytest.raises(TenantNotFound):
        registry.events("acme")
    registry.create_tenant(spec(), actor="t", at=T0)
    with pytest.raises(TenantExists):
        registry.create_tenant(spec(plan="free"), actor="t", at=T0)


def test_list_filters_by_state_and_location(registry: Registry) -> None:
    registry.create_tenant(spec("acme", "de"), actor="t", at=T0)
    registry.create_tenant(spec("beta", "uk"), actor="t", at=T0)
    registry.create_tenant(spec("gamma", "de"), actor="t", at=T0)
    registry.suspend("gamma", actor="t", at=T0 + DAY)
    assert [t.slug for t in registry.list_tenants()] == ["acme", "beta", "gamma"]
    assert [t.slug for t in registry.list_tenants(location="de")] == ["acme", "gamma"]
    assert [t.slug for t in registry.list_tenants(state="suspended")] == ["gamma"]
    assert [t.slug for t in registry.list_tenants(state="active", location="de")] == ["acme"]


def test_event_log_is_append_only_in_the_database(registry: Registry) -> None:
    registry.create_tenant(spec(), actor="t", at=T0)
    for statement in ("UPDATE tenant_events SET reason = 'rewritten'", "DELETE FROM tenant_events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), registry.write() as conn:
            conn.exec_driver_sql(statement)
    assert [e.reason for e in registry.events("acme")] == [""]


def test_every_change_is_in_the_audit_trail(registry: Registry) -> None:
    registry.create_tenant(spec(), actor="cli:alice", at=T0, reason="signup")
    registry.suspend("acme", actor="cli:bob", at=T0 + DAY, reason="abuse")
    registry.resume("acme", actor="cli:bob", at=T0 + 2 * DAY, reason="cleared")
    registry.record_billing_event("acme", "payment_failed", actor="billing", at=T0 + 3 * DAY)
    registry.record_event("acme", "restore-drill", actor="audit", reason="quarterly",
                          data={"restored_in_minutes": 42}, at=T0 + 4 * DAY)  # fmt: skip
    registry.retention_apply(T0 + 3 * DAY + 15 * DAY)
    trail = [(e.kind, e.actor, e.reason) for e in registry.events("acme")]
    assert trail == [
        ("created", "cli:alice", "signup"),
        ("suspended", "cli:bob", "abuse"),
        ("resumed", "cli:bob", "cleared"),
        (
            "billing.payment_failed",
            "billing",
            f"payment failed; suspended at {iso(T0 + 18 * DAY)} unless the payment is recovered"
            " before",
        ),
        ("restore-drill", "audit", "quarterly"),
        (
            "retention.suspend",
            "retention",
            "payment failed 2026-01-04T00:00:00Z: suspended on day 15",
        ),
    ]
    assert registry.events("acme")[4].data == {"restored_in_minutes": 42}


def test_observed_state_outputs_and_program_version(registry: Registry) -> None:
    registry.create_tenant(spec(), actor="t", at=T0)
    tenant = registry.set_observed_state(
        "acme", "active", actor="worker:1", at=T0 + DAY, generation=1,
        outputs={"url": "https://acme.example.com", "db": {"port": 3306}},
        program_version="tenant-stack 1.2.0",
    )  # fmt: skip
    assert tenant.observed_state == "active" and tenant.observed_generation == 1
    assert tenant.outputs == {"url": "https://acme.example.com", "db": {"port": 3306}}
    assert tenant.program_version == "tenant-stack 1.2.0"
    assert tenant.desired_state == "active"  # observing never changes what is desired
    failed = registry.set_observed_state("acme", "failed", actor="worker:1", error="quota")
    assert failed.last_error == "quota" and failed.outputs == tenant.outputs
    assert registry.events("acme")[-1].kind == "observed"


def test_desired_state_changes_bump_the_generation(registry: Registry) -> None:
    registry.create_tenant(spec(), actor="t", at=T0)
    assert registry.set_desired_state("acme", "suspended", actor="t", at=T0 + DAY).generation == 2
    assert registry.set_desired_state("acme", "active", actor="t", at=T0 + DAY).generation == 3
    for state in ("closed", "deleted", "zombie"):
        with pytest.raises(IllegalTransition):
            registry.set_desired_state("acme", state, actor="t", at=T0 + DAY)


def test_tombstone_keeps_the_row_and_takes_deletion_evidence(registry: Registry) -> None:
    registry.create_tenant(spec(plan="free"), actor="t", at=T0)
    with pytest.raises(IllegalTransition, match="not decided"):
        registry.record_deletion_evidence("acme", {"stack": "destroyed"}, actor="worker")
    result = registry.retention_apply(T0 + 60 * DAY)
    assert [(a.tenant, a.action) for a in result.applied] == [("acme", "delete")]
    evidence = {"stack": "destroyed", "backups": [], "key_deletion_date": "2026-04-08"}
    tomb = registry.record_deletion_evidence("acme", evidence, actor="worker", at=T0 + 61 * DAY)
    assert tomb.is_tombstone and tomb.deletion_evidence == evidence
    assert tomb.deleted_at == T0 + 60 * DAY and tomb.deleted_by == "free-inactive"
    with pytest.raises(IllegalTransition, match="tombstone"):
        registry.record_billing_event("acme", "activity", actor="t", at=T0 + 62 * DAY)


def test_billing_is_kept_apart_and_purged_after_7_years_only(registry: Registry) -> None:
    registry.create_tenant(spec(), actor="t", at=T0)
    registry.record_billing_event("acme", "plan_changed", actor="b", at=T0, plan="enterprise",
                                  data={"invoice": "A-1"})  # fmt: skip
    registry.record_billing_event("acme", "activity", actor="b", at=T0 + DAY)
    registry.record_billing_event("acme", "cancelled", actor="b", at=T0 + 400 * DAY)
    registry.retention_apply(T0 + 490 * DAY)
    assert registry.get_tenant("acme").is_tombstone
    assert [r.kind for r in registry.billing_records("acme")] == ["plan_changed", "cancelled"]
    first_purge = datetime(2033, 1, 1, tzinfo=UTC)
    assert registry.retention_apply(first_purge - timedelta(microseconds=1)).applied == ()
    result = registry.retention_apply(first_purge)
    assert result.purged_billing_records == 1
    assert [r.kind for r in registry.billing_records("acme")] == ["cancelled"]
    assert registry.retention_apply(first_purge).purged_billing_records == 0
    assert registry.events("acme")[-1].kind == "retention.purge-billing"


def test_naive_instants_are_refused(registry: Registry) -> None:
    with pytest.raises(UsageError, match="time zone"):
        registry.create_tenant(spec(), actor="t", at=datetime(2026, 1, 1))
