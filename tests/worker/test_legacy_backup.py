"""A stack built before the backup account keeps its old copy while the worker updates it, the
retirement clock starts at the first successful update (plus the plan's retention and a day),
and retiring before then is refused; after it, the next update builds the stack without it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from provisioner.errors import CheckFailed, TenantNotFound, UsageError
from provisioner.registry import Registry
from provisioner.registry.legacy_backup import check_due, retire, retire_after
from provisioner.registry.models import tenants
from tests.worker.conftest import Clock, add_tenants
from tests.worker.engine_double import DoubleEngine
from tests.worker.test_worker import kinds, make_worker


class SpecRecordingEngine(DoubleEngine):
    """The engine double, remembering whether each `up` kept the old backup copy."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.legacy: list[tuple[str, bool]] = []

    def up(self, spec: Any) -> Any:
        self.legacy.append((spec.slug, spec.legacy_backup))
        return super().up(spec)


@pytest.fixture
def recording(tmp_path: Any) -> SpecRecordingEngine:
    return SpecRecordingEngine(tmp_path / "stacks")


def _built_before_the_backup_account(registry: Registry, slug: str) -> None:
    """What migration 0009 does to a tenant whose stack exists when it runs."""
    with registry.write() as conn:
        conn.execute(sa.update(tenants).where(tenants.c.slug == slug)
                     .values(legacy_backup=True))


def test_the_old_copy_is_kept_and_the_clock_starts_once(
    registry: Registry, recording: SpecRecordingEngine, clock: Clock
) -> None:
    add_tenants(registry, "acme", "newco")  # trial: 7 days of backups
    make_worker(registry, recording, clock).run(once=True)
    assert registry.get_tenant("newco").legacy_backup is None  # built by this program
    _built_before_the_backup_account(registry, "acme")
    first_update = clock()
    make_worker(registry, recording, clock, program_version="test-2").run(once=True)
    assert ("acme", True) in recording.legacy and ("newco", False) in recording.legacy
    until = registry.get_tenant("acme").legacy_backup_until
    assert until == retire_after("trial", first_update) == first_update + timedelta(days=8)
    assert registry.get_tenant("newco").legacy_backup_until is None
    clock.advance(3600)
    make_worker(registry, recording, clock, program_version="test-3").run(once=True)
    assert registry.get_tenant("acme").legacy_backup_until == until  # not moved by later ones


def test_retiring_is_refused_until_due_then_the_next_update_drops_the_copy(
    registry: Registry, recording: SpecRecordingEngine, clock: Clock
) -> None:
    add_tenants(registry, "acme", "newco")
    make_worker(registry, recording, clock).run(once=True)
    _built_before_the_backup_account(registry, "acme")
    with pytest.raises(CheckFailed, match="not been updated since"):
        check_due(registry, "acme", clock())  # no update since: no copies in the new vault yet
    make_worker(registry, recording, clock, program_version="test-2").run(once=True)
    until = registry.get_tenant("acme").legacy_backup_until
    assert until is not None
    with pytest.raises(CheckFailed, match=re.escape(until.isoformat())):
        retire(registry, "acme", now=until - timedelta(seconds=1), actor="test")
    assert registry.get_tenant("acme").legacy_backup is True  # refused: nothing changed
    done = retire(registry, "acme", now=until, actor="test")
    assert done is not None and done.kept_until == until
    tenant = registry.get_tenant("acme")
    assert tenant.legacy_backup is False and tenant.legacy_backup_until is None
    assert "backup.legacy-retired" in kinds(registry, "acme")
    recording.legacy.clear()
    make_worker(registry, recording, clock, program_version="test-2").run(once=True)
    assert recording.legacy == [("acme", False)]  # updated again, without the old copy
    # A second retirement records nothing and says so.
    assert retire(registry, "acme", now=until, actor="test") is None
    assert kinds(registry, "acme").count("backup.legacy-retired") == 1
    with pytest.raises(UsageError, match="nothing to retire"):
        retire(registry, "newco", now=until, actor="test")
    with pytest.raises(TenantNotFound):
        retire(registry, "nobody", now=until, actor="test")


def test_the_migration_flags_only_tenants_with_a_built_stack(tmp_path: Any) -> None:
    from alembic import command

    from provisioner.registry.db import _alembic_config

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007_incidents")
        columns = ("slug, location, region, plan, desired_state, observed_state,"
                   " observed_generation, generation, created_at, last_event_at, attempts,"
                   " version, updated_at")
        now = "2026-11-01 00:00:00.000000"
        for slug, observed, generation in (("built", "'active'", "1"), ("never", "NULL", "NULL"),
                                           ("gone", "'deleted'", "2"),
                                           ("paused", "'suspended'", "3")):
            conn.exec_driver_sql(
                f"INSERT INTO tenants ({columns}) VALUES ('{slug}', 'de', 'eu-central-1',"
                f" 'trial', 'active', {observed}, {generation}, 1, '{now}', '{now}', 0, 1,"
                f" '{now}')")
        command.upgrade(_alembic_config(conn), "0009_legacy_backup")
        flagged = dict(conn.exec_driver_sql("SELECT slug, legacy_backup FROM tenants").all())
    assert {slug for slug, flag in flagged.items() if flag} == {"built", "paused"}
