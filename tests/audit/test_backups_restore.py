"""Backups, restores and restore drills against moto's server.

moto 5.2.5 implements RDS snapshots, point-in-time and snapshot restores, EBS snapshots and
volumes; it does not implement AWS Backup recovery points or backup jobs, so
ListRecoveryPointsByBackupVault and StartBackupJob are answered by botocore's Stubber with
responses validated against the service model (tests/audit/stubs.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from provisioner.audit.backups import create_backups, list_backups
from provisioner.audit.clients import Clients, is_not_found
from provisioner.audit.model import Target
from provisioner.audit.restore import drill, restore
from provisioner.errors import CheckFailed
from provisioner.promises import RESTORE_OBJECTIVE_SECONDS

from .builder import Built, client, database_without_tls
from .stubs import BackupStubs

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def target(b: Built) -> Target:
    return Target(b.slug, b.location)


def snapshots(b: Built) -> tuple[str, str]:
    """A manual DB snapshot and a tagged EBS snapshot of the data volume."""
    rds = client("rds", b.region)
    db_snap = rds.create_db_snapshot(
        DBSnapshotIdentifier=f"t-{b.slug}-manual", DBInstanceIdentifier=f"t-{b.slug}-db"
    )["DBSnapshot"]["DBSnapshotIdentifier"]
    ebs = client("ec2", b.region).create_snapshot(
        VolumeId=b.data_volume_id, TagSpecifications=[{"ResourceType": "snapshot", "Tags": b.tags}]
    )["SnapshotId"]
    return db_snap, ebs


def db_exists(b: Built, identifier: str) -> bool:
    try:
        client("rds", b.region).describe_db_instances(DBInstanceIdentifier=identifier)
    except Exception as exc:
        assert is_not_found(exc)
        return False
    return True


def test_list_shows_snapshots_copies_and_recovery_points_with_age_and_key(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    db_snap, ebs = snapshots(tenant)
    arn = f"arn:aws:rds:{tenant.region}:{tenant.account}:snapshot:{db_snap}"
    client("rds", "eu-west-1").copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn,
        TargetDBSnapshotIdentifier=f"t-{tenant.slug}-copy",
        KmsKeyId=client("kms", "eu-west-1").create_key()["KeyMetadata"]["Arn"],
        SourceRegion=tenant.region,
    )
    point = f"arn:aws:backup:{tenant.region}:{tenant.account}:recovery-point:rp-1"
    stubs.on(
        "ListRecoveryPointsByBackupVault",
        lambda p: {
            "RecoveryPoints": []
            if p["BackupVaultName"] != tenant.vault_name
            else [
                {
                    "RecoveryPointArn": point,
                    "BackupVaultName": tenant.vault_name,
                    "ResourceArn": tenant.db_arn,
                    "ResourceType": "RDS",
                    "Status": "COMPLETED",
                    "CreationDate": NOW - timedelta(hours=30),
                    "EncryptionKeyArn": tenant.key_arn,
                    "IsEncrypted": True,
                }
            ]
        },
    )
    rows = list_backups(clients, target(tenant), NOW)
    by_kind = {(r["kind"], r["region"]) for r in rows}
    assert {
        ("rds-snapshot", "eu-central-1"),
        ("rds-snapshot", "eu-west-1"),
        ("ebs-snapshot", "eu-central-1"),
        ("recovery-point", "eu-central-1"),
    } <= by_kind
    rp = next(r for r in rows if r["kind"] == "recovery-point")
    assert rp["age_hours"] == 30.0
    assert rp["tenant_key"] is True
    # moto's CreateSnapshot keeps Encrypted but not the volume's KmsKeyId (AWS keeps both).
    assert next(r for r in rows if r["id"] == ebs)["encrypted"] is True
    copy = next(r for r in rows if r["region"] == "eu-west-1")
    assert copy["tenant_key"] is False  # under another key than the tenant's: shown as such


def test_create_starts_jobs_for_database_and_volumes_with_the_selection_role(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    stubs.on(
        "StartBackupJob",
        lambda p: {
            "BackupJobId": f"job-{p['ResourceArn'].rsplit('/', 1)[-1][-8:]}",
            "RecoveryPointArn": f"arn:aws:backup:{tenant.region}:{tenant.account}:recovery-point:x",
            "CreationDate": NOW,
        },
    )
    jobs = create_backups(clients, target(tenant), NOW)
    started = stubs.called("StartBackupJob")
    resources = {p["ResourceArn"] for p in started}
    volume = f"arn:aws:ec2:{tenant.region}:{tenant.account}:volume/"
    assert resources == {
        tenant.db_arn,
        volume + tenant.data_volume_id,
        volume + tenant.root_volume_id,
    }
    assert {p["BackupVaultName"] for p in started} == {tenant.vault_name}
    assert {p["IamRoleArn"] for p in started} == {
        f"arn:aws:iam::{tenant.account}:role/t-{tenant.slug}-backup"
    }
    assert len(jobs) == 3


def test_restore_from_snapshot_keeps_network_key_and_tls(clients: Clients, tenant: Built) -> None:
    db_snap, _ = snapshots(tenant)
    result = restore(clients, target(tenant), now=NOW, snapshot=db_snap, poll=0)
    assert result.findings == []
    assert result.db_identifier == f"t-{tenant.slug}-db-r202611280900"
    db = client("rds", tenant.region).describe_db_instances(
        DBInstanceIdentifier=result.db_identifier
    )["DBInstances"][0]
    assert db["PubliclyAccessible"] is False
    assert db["KmsKeyId"] == tenant.key_arn
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == f"t-{tenant.slug}-mysql8"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == f"t-{tenant.slug}-db"
    assert {t["Key"]: t["Value"] for t in db["TagList"]}["tenant"] == tenant.slug


def test_restore_to_point_in_time_restores_database_and_volumes_as_new_slug(
    clients: Clients, tenant: Built
) -> None:
    _, ebs = snapshots(tenant)
    result = restore(
        clients,
        target(tenant),
        now=NOW,
        to=datetime.now(UTC),
        as_slug=f"{tenant.slug}-copy",
        poll=0,
    )
    assert result.findings == []
    assert result.db_identifier == f"t-{tenant.slug}-copy-db"
    volumes = client("ec2", tenant.region).describe_volumes(VolumeIds=result.volumes)["Volumes"]
    assert [v["SnapshotId"] for v in volumes] == [ebs]
    assert all(v["Encrypted"] and v["KmsKeyId"] == tenant.key_arn for v in volumes)
    assert volumes[0]["AvailabilityZone"] == tenant.location.zones[0]
    tags = {t["Key"]: t["Value"] for t in volumes[0]["Tags"]}
    assert tags["tenant"] == f"{tenant.slug}-copy"
    # Every required tag, or the audit's tags.required rule fails the copy.
    from provisioner.promises import REQUIRED_TAGS

    assert all(tags.get(name) for name in REQUIRED_TAGS), tags
    assert tags["plan"] == "standard"
    db = client("rds", tenant.region).describe_db_instances(
        DBInstanceIdentifier=result.db_identifier
    )["DBInstances"][0]
    db_tags = [t["Key"] for t in db["TagList"]]
    assert db_tags.count("plan") == 1 and set(REQUIRED_TAGS) <= set(db_tags)


def test_restored_copy_is_checked_with_the_audit_rules(clients: Clients, tenant: Built) -> None:
    db_snap, _ = snapshots(tenant)
    database_without_tls(tenant)
    result = restore(clients, target(tenant), now=NOW, snapshot=db_snap, poll=0)
    assert [(f.rule, f.arn) for f in result.findings] == [("rds.require-tls", result.db_arn)]


class Clock:
    """A monotonic clock the test controls: each call returns the next reading."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_drill_restores_checks_times_and_removes_the_scratch_copy(
    clients: Clients, tenant: Built
) -> None:
    snapshots(tenant)
    result = drill(clients, target(tenant), now=NOW, clock=Clock(100.0, 100.0 + 2 * 3600), poll=0)
    assert result.duration_seconds == 2 * 3600
    assert result.passed, result.to_dict()
    scratch = result.restored.db_identifier
    assert scratch == f"t-{tenant.slug}-drill-202611280900"
    assert result.restored.volumes  # the data volume was restored too
    assert result.cleaned_up
    assert not db_exists(tenant, scratch)
    left = client("ec2", tenant.region).describe_volumes(
        Filters=[{"Name": "volume-id", "Values": result.restored.volumes}]
    )["Volumes"]
    assert left == []


def test_drill_over_the_objective_fails_but_still_cleans_up(
    clients: Clients, tenant: Built
) -> None:
    snapshots(tenant)
    slow = Clock(0.0, RESTORE_OBJECTIVE_SECONDS + 1.0)
    result = drill(clients, target(tenant), now=NOW, clock=slow, poll=0)
    assert not result.passed
    assert result.to_dict()["within_objective"] is False
    assert result.cleaned_up
    assert not db_exists(tenant, f"t-{tenant.slug}-drill-202611280900")


def test_drill_with_nothing_to_restore_fails_and_creates_nothing(
    clients: Clients, tenant: Built
) -> None:
    ghost = Target(f"{tenant.slug}-gone", tenant.location)
    with pytest.raises(CheckFailed, match="no available snapshot"):
        drill(clients, ghost, now=NOW, poll=0)
    assert not db_exists(tenant, f"t-{tenant.slug}-gone-drill-202611280900")


def test_drill_with_a_finding_fails_and_still_cleans_up(clients: Clients, tenant: Built) -> None:
    snapshots(tenant)
    database_without_tls(tenant)
    result = drill(clients, target(tenant), now=NOW, clock=Clock(0.0, 60.0), poll=0)
    assert [f.rule for f in result.restored.findings] == ["rds.require-tls"]
    assert not result.passed
    assert result.cleaned_up
    assert not db_exists(tenant, f"t-{tenant.slug}-drill-202611280900")


def test_cli_drill_reports_measured_duration_and_records_the_event(
    monkeypatch: pytest.MonkeyPatch, stubs: BackupStubs, tenant: Built
) -> None:
    from provisioner.cli.main import app
    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    monkeypatch.setattr(
        "provisioner.audit.default_clients", lambda: Clients(on_new_client=stubs.attach)
    )
    with Registry.open() as reg:
        reg.create_tenant(TenantSpec.create(tenant.slug, "de", "standard"), actor="test")
    snapshots(tenant)
    result = CliRunner().invoke(app, ["restore", "drill", tenant.slug, "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0 < report["duration_seconds"] < RESTORE_OBJECTIVE_SECONDS  # measured, not assumed
    assert report["cleaned_up"] is True
    assert report["recorded"] is True
    with Registry.open() as reg:
        events = [e for e in reg.events(tenant.slug) if e.kind == "restore-drill"]
    assert len(events) == 1
    assert events[0].data is not None
    assert events[0].data["duration_seconds"] == report["duration_seconds"]


def test_cli_drill_that_cannot_run_is_recorded_as_failed(
    monkeypatch: pytest.MonkeyPatch, stubs: BackupStubs, aws: str, slug: str
) -> None:
    from provisioner.cli.main import app
    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    monkeypatch.setattr(
        "provisioner.audit.default_clients", lambda: Clients(on_new_client=stubs.attach)
    )
    with Registry.open() as reg:  # registered, but its stack was never created
        reg.create_tenant(TenantSpec.create(slug, "de", "standard"), actor="test")
    result = CliRunner().invoke(app, ["restore", "drill", slug])
    assert result.exit_code == 1
    assert "no available snapshot" in result.stderr
    with Registry.open() as reg:
        events = [e for e in reg.events(slug) if e.kind == "restore-drill"]
    assert [e.reason.split(":")[0] for e in events] == ["failed"]


def test_cli_restore_usage_errors() -> None:
    from provisioner.cli.main import app

    runner = CliRunner()
    both = runner.invoke(app, ["restore", "acme", "--to", "2026-11-01", "--snapshot", "x"])
    assert both.exit_code == 2
    bad_date = runner.invoke(app, ["restore", "acme", "--to", "yesterday", "-l", "de"])
    assert bad_date.exit_code == 2
    assert "--to 'yesterday'" in bad_date.stderr
    future = runner.invoke(app, ["restore", "acme", "--to", "2999-01-01", "-l", "de"])
    assert future.exit_code == 2
    assert "in the future" in future.stderr
    drill_with_to = runner.invoke(app, ["restore", "drill", "acme", "--to", "2026-11-01"])
    assert drill_with_to.exit_code == 2
