"""`provisioner backups retire-legacy`: refused (exit 1, with the date) before the new vault has
held copies for the plan's retention; `--dry-run` shows what the next update does and changes
nothing; then it clears the flag."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from provisioner.registry import Registry
from provisioner.registry.models import tenants
from provisioner.spec import TenantSpec
from tests.registry.cli_helpers import at, run
from tests.registry.conftest import T0

UNTIL = T0 + timedelta(days=31)


def _legacy_tenant(url: str) -> None:
    with Registry.open(url) as reg:
        reg.create_tenant(TenantSpec.create("acme", "de", "standard"), actor="test", at=T0)
        with reg.write() as conn:
            conn.execute(sa.update(tenants).where(tenants.c.slug == "acme")
                         .values(legacy_backup=True, legacy_backup_until=UNTIL))


def test_refused_before_due_shown_by_dry_run_then_retired(cli_env: str) -> None:
    _legacy_tenant(cli_env)
    early = run("backups", "retire-legacy", "acme", "--at", at(UNTIL - timedelta(days=1)))
    assert early.exit_code == 1
    assert UNTIL.isoformat() in early.output and "Traceback" not in early.output
    shown = run("backups", "retire-legacy", "acme", "--dry-run", "--at", at(UNTIL),
                "-o", "json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["retired"] is False and data["kept_until"] == UNTIL.isoformat()
    assert [s.split(" from ")[0].split(" (")[0] for s in data["next_update"]] == [
        "releases backup vault backup-copy-vault", "retires key keys-replica"]
    with Registry.open(cli_env) as reg:
        assert reg.get_tenant("acme").legacy_backup is True  # the dry run changed nothing
    done = run("backups", "retire-legacy", "acme", "--at", at(UNTIL))
    assert done.exit_code == 0, done.output
    assert "retired its pre-backup-account copy" in done.output
    assert "releases backup vault backup-copy-vault" in done.output
    with Registry.open(cli_env) as reg:
        tenant = reg.get_tenant("acme")
        assert tenant.legacy_backup is False and tenant.program_version is None
    again = run("backups", "retire-legacy", "acme", "--at", at(UNTIL))
    assert again.exit_code == 0 and "already retired" in again.output  # a script may repeat it
    again_json = run("backups", "retire-legacy", "acme", "--at", at(UNTIL), "-o", "json")
    assert again_json.exit_code == 0
    assert json.loads(again_json.stdout)["already_retired"] is True
    with Registry.open(cli_env) as reg:
        retired = [e for e in reg.events("acme") if e.kind == "backup.legacy-retired"]
    assert len(retired) == 1  # the repeat recorded nothing
    assert run("backups", "retire-legacy", "nobody").exit_code == 2


def test_a_tenant_that_never_kept_an_old_copy_is_told_so(cli_env: str) -> None:
    with Registry.open(cli_env) as reg:
        reg.create_tenant(TenantSpec.create("fresh", "de", "trial"), actor="test", at=T0)
    result = run("backups", "retire-legacy", "fresh", "--at", at(UNTIL))
    assert result.exit_code == 2 and "keeps no backup copy" in result.output


def test_a_future_at_cannot_retire_early_but_a_dry_run_may_look_ahead(cli_env: str) -> None:
    from datetime import UTC, datetime

    _legacy_tenant(cli_env)
    future = at(max(UNTIL, datetime.now(UTC)) + timedelta(days=400))
    refused = run("backups", "retire-legacy", "acme", "--at", future)
    assert refused.exit_code == 2 and "in the future" in refused.output
    with Registry.open(cli_env) as reg:
        assert reg.get_tenant("acme").legacy_backup is True  # nothing changed
    looked = run("backups", "retire-legacy", "acme", "--dry-run", "--at", future, "-o", "json")
    assert looked.exit_code == 0 and json.loads(looked.stdout)["due"] is True


def test_not_due_gives_the_date_in_json_too(cli_env: str) -> None:
    _legacy_tenant(cli_env)
    early = run("backups", "retire-legacy", "acme", "--at", at(UNTIL - timedelta(days=1)),
                "-o", "json")
    assert early.exit_code == 1
    data = json.loads(early.stdout)
    assert data["due"] is False and data["retired"] is False
    assert data["kept_until"] == UNTIL.isoformat()


def test_a_deleted_tenant_is_refused_and_unchanged(cli_env: str) -> None:
    _legacy_tenant(cli_env)
    with Registry.open(cli_env) as reg, reg.write() as conn:
        conn.execute(sa.update(tenants).where(tenants.c.slug == "acme")
                     .values(desired_state="deleted"))
    result = run("backups", "retire-legacy", "acme", "--at", at(UNTIL), "--dry-run")
    assert result.exit_code == 2 and "is deleted" in result.output
    assert "next update" not in result.output
    with Registry.open(cli_env) as reg:
        assert reg.get_tenant("acme").legacy_backup is True
