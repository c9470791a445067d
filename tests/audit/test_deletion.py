"""Proof of deletion against moto's server: it fails while anything remains, passes when gone.

Recovery points are stubbed with botocore's Stubber (moto 5.2.5 does not implement
ListRecoveryPointsByBackupVault); everything else is read from moto over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

from provisioner.audit.clients import Clients
from provisioner.audit.deletion import prove_deletion
from provisioner.audit.model import Target

from .builder import Built, client, destroy_tenant
from .stubs import BackupStubs

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def no_recovery_points(stubs: BackupStubs) -> BackupStubs:
    return stubs.on("ListRecoveryPointsByBackupVault", {"RecoveryPoints": []})


def prove(clients: Clients, built: Built):
    return prove_deletion(clients, Target(built.slug, built.location), NOW)


def remnants(proof) -> set[tuple[str, str]]:
    return {(r.kind, r.arn) for r in proof.remnants}


def test_a_live_tenant_is_not_deleted(clients: Clients, tenant: Built, stubs: BackupStubs) -> None:
    no_recovery_points(stubs)
    proof = prove(clients, tenant)
    assert not proof.passed
    kinds = {kind for kind, _ in remnants(proof)}
    assert {
        "ec2:instance",
        "ec2:volume",
        "rds:db",
        "kms:key",
        "s3:bucket",
        "logs:log-group",
        "elasticloadbalancing:loadbalancer",
    } <= kinds
    # The vault is locked in compliance mode: kept by design, listed as pending, not a remnant.
    assert tenant.vault_name in {p["arn"].rsplit(":", 1)[-1] for p in proof.pending}


def test_deleted_tenant_passes_with_key_pending_deletion(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    no_recovery_points(stubs)
    destroy_tenant(tenant)
    proof = prove(clients, tenant)
    assert proof.remnants == set(), proof.to_dict()
    assert proof.passed
    evidence = proof.to_dict()
    assert {k["state"] for k in evidence["keys"]} == {"PendingDeletion"}
    assert {k["region"] for k in evidence["keys"]} == {"eu-central-1", "eu-west-1"}
    assert evidence["checked_at"] == "2026-11-28T09:00:00+00:00"
    assert "eu-west-1 rds:snapshot" in evidence["checked"]


def test_leftover_snapshot_fails_until_deleted(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    no_recovery_points(stubs)
    rds = client("rds", tenant.region)
    snap = rds.create_db_snapshot(
        DBSnapshotIdentifier=f"t-{tenant.slug}-manual", DBInstanceIdentifier=f"t-{tenant.slug}-db"
    )["DBSnapshot"]
    ebs = client("ec2", tenant.region).create_snapshot(
        VolumeId=tenant.data_volume_id,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": tenant.tags}],
    )["SnapshotId"]
    destroy_tenant(tenant)
    proof = prove(clients, tenant)
    ebs_arn = f"arn:aws:ec2:{tenant.region}:{tenant.account}:snapshot/{ebs}"
    assert remnants(proof) == {("rds:snapshot", snap["DBSnapshotArn"]), ("ec2:snapshot", ebs_arn)}
    rds.delete_db_snapshot(DBSnapshotIdentifier=f"t-{tenant.slug}-manual")
    client("ec2", tenant.region).delete_snapshot(SnapshotId=ebs)
    assert prove(clients, tenant).passed


def test_key_not_scheduled_for_deletion_fails(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    no_recovery_points(stubs)
    destroy_tenant(tenant, keep=("key",))
    proof = prove(clients, tenant)
    assert ("kms:key", tenant.key_arn) in remnants(proof)
    assert not proof.passed


def test_leftover_recovery_point_in_the_copy_region_fails(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    destroy_tenant(tenant)
    # A shared vault that still holds a copy of the tenant's database (Stubber: moto has no
    # recovery points; the vault itself is real in moto).
    shared = client("backup", "eu-west-1").create_backup_vault(
        BackupVaultName=f"{tenant.slug}-shared"
    )
    point = f"arn:aws:rds:eu-west-1:{tenant.account}:snapshot:awsbackup:copyjob-{tenant.slug}"

    def points(params: dict) -> dict:
        if params["BackupVaultName"] != shared["BackupVaultName"]:
            return {"RecoveryPoints": []}
        return {
            "RecoveryPoints": [
                {
                    "RecoveryPointArn": point,
                    "BackupVaultName": params["BackupVaultName"],
                    "ResourceArn": tenant.db_arn,
                    "ResourceType": "RDS",
                    "Status": "COMPLETED",
                }
            ]
        }

    stubs.on("ListRecoveryPointsByBackupVault", points)
    proof = prove(clients, tenant)
    assert remnants(proof) == {("backup:recovery-point", point)}
    assert {"BackupVaultName": shared["BackupVaultName"]} in stubs.called(
        "ListRecoveryPointsByBackupVault"
    )


def test_untagged_leftovers_are_found_by_the_names_the_stack_uses(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    no_recovery_points(stubs)
    destroy_tenant(tenant)
    logs = client("logs", tenant.region)
    logs.create_log_group(logGroupName=f"/tenant/{tenant.slug}/app")  # lost its tags
    logs.create_log_group(logGroupName=f"/tenant/{tenant.slug}-corp/app")  # another tenant
    proof = prove(clients, tenant)
    arn = f"arn:aws:logs:{tenant.region}:{tenant.account}:log-group:/tenant/{tenant.slug}/app"
    assert remnants(proof) == {("logs:log-group", arn)}


def test_a_secret_counts_until_it_is_scheduled_for_deletion(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    no_recovery_points(stubs)
    destroy_tenant(tenant)
    sm = client("secretsmanager", tenant.region)
    arn = sm.create_secret(Name=f"tenant-{tenant.slug}/app", SecretString="x", Tags=tenant.tags)[
        "ARN"
    ]
    assert remnants(prove(clients, tenant)) == {("secretsmanager:secret", arn)}
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    proof = prove(clients, tenant)
    assert proof.passed, proof.to_dict()
    secrets = [p["arn"] for p in proof.to_dict()["pending"] if p["kind"] == "secretsmanager:secret"]
    assert secrets == [arn]


def _locked_copy(stubs: BackupStubs, tenant: Built) -> str:
    """A recovery point of the tenant's database in the backup account's locked copy vault,
    encrypted with the backup account's key (Stubber: moto has no recovery points)."""
    name = tenant.dest_vault_arn.rsplit(":", 1)[-1]
    point = f"{tenant.dest_vault_arn.rsplit(':', 2)[0]}:recovery-point:copy-{tenant.slug}"

    def points(params: dict) -> dict:
        if params["BackupVaultName"] != name:
            return {"RecoveryPoints": []}
        return {"RecoveryPoints": [{
            "RecoveryPointArn": point, "BackupVaultName": name, "ResourceArn": tenant.db_arn,
            "ResourceType": "RDS", "Status": "COMPLETED"}]}

    stubs.on("ListRecoveryPointsByBackupVault", points)
    stubs.on("DescribeRecoveryPoint", lambda params: {
        "RecoveryPointArn": params["RecoveryPointArn"], "BackupVaultName": name,
        "EncryptionKeyArn": tenant.backup_key_arn, "IsEncrypted": True,
        "CalculatedLifecycle": {"DeleteAt": datetime(2026, 12, 12, 3, 0, tzinfo=UTC)}})
    return point


def test_locked_copy_is_accepted_only_once_its_key_is_going(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    point = _locked_copy(stubs, tenant)
    destroy_tenant(tenant, keep=("backup-key",))
    proof = prove(clients, tenant)
    assert ("backup:recovery-point", point) in remnants(proof)
    assert ("kms:key", tenant.backup_key_arn) in remnants(proof)  # found by alias, as the role
    assert "still readable" in next(r.detail for r in proof.remnants if r.arn == point)


def test_locked_copy_under_a_key_pending_deletion_passes_with_its_expiry(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    point = _locked_copy(stubs, tenant)
    destroy_tenant(tenant)
    proof = prove(clients, tenant)
    assert proof.passed, proof.to_dict()
    pending = {p["arn"]: p for p in proof.to_dict()["pending"]}
    assert pending[point]["deletion_date"] == "2026-12-12T03:00:00+00:00"
    assert pending[point]["key"] == tenant.backup_key_arn
    assert tenant.backup_key_arn in {k["arn"] for k in proof.to_dict()["keys"]}
