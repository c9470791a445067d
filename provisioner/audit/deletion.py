"""Proof of deletion: nothing of a deleted tenant remains in its regions, and its key is going.

Two independent sources per region, so a resource that lost its tags is still found:
- the tagging API (`tenant=<slug>`), for every service it covers;
- per-service reads by tag filter or by the names the stack derives from the instance id (the
  slug for a tenant created directly; instances,
  volumes, snapshots, database instances, snapshots and retained automated backups, secrets,
  log groups, vaults and their recovery points).
The tenant's KMS keys (its own, and the backup account's per-tenant key, read as the platform's
backup role there) may remain only in PendingDeletion: once deleted, every backup encrypted under
them is unreadable (crypto-shredding). Vaults locked in compliance mode outlive the tenant by
design; a recovery point in one is accepted only while every key that can decrypt it (the key
it is encrypted with) is pending deletion or gone, and is listed as pending with the date its
lifecycle deletes it.

The JSON of `Proof.to_dict()` is the deletion evidence the registry stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioner.audit.clients import Clients, aws_errors, is_not_found
from provisioner.audit.discovery import Discovery, Tagged, account_id
from provisioner.audit.model import Target

KEY_GOING = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
INSTANCE_GONE = frozenset({"terminated", "shutting-down"})


@dataclass(frozen=True, order=True)
class Remnant:
    """Something of the tenant that still exists."""

    region: str
    kind: str  # "ec2:volume", "rds:snapshot", "backup:recovery-point", ...
    arn: str
    detail: str = ""


@dataclass
class Proof:
    slug: str
    location: str
    regions: tuple[str, ...]
    account: str
    checked_at: datetime
    remnants: set[Remnant] = field(default_factory=set)
    keys: list[dict[str, str]] = field(default_factory=list)
    pending: list[dict[str, str]] = field(default_factory=list)  # scheduled for deletion
    checked: set[str] = field(default_factory=set)  # "region kind" pairs that were read

    @property
    def passed(self) -> bool:
        return not self.remnants

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.slug,
            "location": self.location,
            "regions": list(self.regions),
            "account": self.account,
            "checked_at": self.checked_at.isoformat(),
            "passed": self.passed,
            "remnants": [
                {"region": r.region, "kind": r.kind, "arn": r.arn, "detail": r.detail}
                for r in sorted(self.remnants)
            ],
            "keys": sorted(self.keys, key=lambda k: (k["region"], k["arn"])),
            "pending": sorted(self.pending, key=lambda k: (k["region"], k["arn"])),
            "checked": sorted(self.checked),
        }


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


class _Sweep:
    def __init__(self, clients: Clients, target: Target, proof: Proof) -> None:
        self.clients, self.target, self.proof = clients, target, proof
        self.db_id = target.db_identifier

    def remnant(self, region: str, kind: str, arn: str, detail: str = "") -> None:
        arn = arn.removesuffix(":*")  # log groups are listed with and without it
        if all(r.arn != arn for r in self.proof.remnants):  # found by tag and by name: once
            self.proof.remnants.add(Remnant(region, kind, arn, detail))

    def mine(self, tags: dict[str, str]) -> bool:
        return tags.get("tenant") == self.target.slug

    def key(self, region: str, key_id: str, role_arn: str | None = None) -> None:
        kms = self.clients.client("kms", region, role_arn=role_arn)
        try:
            meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except Exception as exc:
            if is_not_found(exc):
                return  # deleted already: nothing can decrypt the tenant's backups
            raise
        if any(k["arn"] == meta["Arn"] for k in self.proof.keys):
            return
        state = str(meta.get("KeyState"))
        deletion = meta.get("DeletionDate")
        self.proof.keys.append(
            {
                "arn": meta["Arn"],
                "region": region,
                "state": state,
                "deletion_date": deletion.isoformat() if deletion else "",
            }
        )
        if state not in KEY_GOING:
            self.remnant(region, "kms:key", meta["Arn"], f"key is {state}, not pending deletion")

    def key_going(self, region: str, key_arn: str, role_arn: str | None) -> str | None:
        """None when the key is pending deletion or gone, else its state."""
        kms = self.clients.client("kms", region, role_arn=role_arn)
        try:
            state = str(kms.describe_key(KeyId=key_arn)["KeyMetadata"].get("KeyState"))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return None if state in KEY_GOING else state

    def vault_locked(self, region: str, name: str, role_arn: str | None = None) -> bool:
        backup = self.clients.client("backup", region, role_arn=role_arn)
        try:
            return bool(backup.describe_backup_vault(BackupVaultName=name).get("Locked"))
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise

    def tagged(self, region: str, resource: Tagged) -> None:
        if resource.kind == "kms:key":
            self.key(region, resource.arn)
            return
        if resource.kind == "backup:backup-vault" and self.vault_locked(
                region, resource.resource_id):
            # A compliance-mode lock cannot be lifted: the vault stays until its recovery
            # points expire; those are judged one by one (backups()).
            self.proof.pending.append({"arn": resource.arn, "region": region,
                                       "kind": "backup:backup-vault", "deletion_date": ""})
            return
        if resource.kind == "secretsmanager:secret" and self._secret_going(region, resource.arn):
            return
        if resource.kind == "ec2:instance":
            ec2 = self.clients.client("ec2", region)
            answer = ec2.describe_instances(InstanceIds=[resource.resource_id])
            states = {i["State"]["Name"] for r in answer["Reservations"] for i in r["Instances"]}
            if states <= INSTANCE_GONE:
                return
        self.remnant(region, resource.kind, resource.arn, "tagged for the tenant")

    def _secret_going(self, region: str, arn: str) -> bool:
        """True when the secret is gone or scheduled for deletion (then listed as pending: it
        is encrypted under the tenant key, which is going too)."""
        sm = self.clients.client("secretsmanager", region)
        try:
            secret = sm.describe_secret(SecretId=arn)
        except Exception as exc:
            if is_not_found(exc):
                return True
            raise
        deleted = secret.get("DeletedDate")
        if deleted is None:
            return False
        self.proof.pending.append(
            {"arn": arn, "region": region, "kind": "secretsmanager:secret",
             "deletion_date": deleted.isoformat()}
        )  # fmt: skip
        return True

    def ec2(self, region: str) -> None:
        ec2 = self.clients.client("ec2", region)
        account = self.proof.account
        by_tag = [{"Name": "tag:tenant", "Values": [self.target.slug]}]
        for page in ec2.get_paginator("describe_instances").paginate(Filters=by_tag):
            for instance in (i for r in page["Reservations"] for i in r["Instances"]):
                if instance["State"]["Name"] not in INSTANCE_GONE:
                    arn = f"arn:aws:ec2:{region}:{account}:instance/{instance['InstanceId']}"
                    self.remnant(region, "ec2:instance", arn, instance["State"]["Name"])
        for page in ec2.get_paginator("describe_volumes").paginate(Filters=by_tag):
            for volume in page["Volumes"]:
                arn = f"arn:aws:ec2:{region}:{account}:volume/{volume['VolumeId']}"
                self.remnant(region, "ec2:volume", arn, volume.get("State", ""))
        pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=by_tag)
        for page in pages:
            for snap in page["Snapshots"]:
                arn = f"arn:aws:ec2:{region}:{account}:snapshot/{snap['SnapshotId']}"
                self.remnant(region, "ec2:snapshot", arn, f"of {snap.get('VolumeId', '?')}")
        self.proof.checked.update(
            {f"{region} ec2:instance", f"{region} ec2:volume", f"{region} ec2:snapshot"}
        )

    def rds(self, region: str) -> None:
        rds = self.clients.client("rds", region)
        for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                if db["DBInstanceIdentifier"] == self.db_id or self.mine(_tags(db.get("TagList"))):
                    self.remnant(
                        region, "rds:db", db["DBInstanceArn"], db.get("DBInstanceStatus", "")
                    )
        snapshots: list[dict[str, Any]] = []
        for page in rds.get_paginator("describe_db_snapshots").paginate(
            DBInstanceIdentifier=self.db_id
        ):
            snapshots.extend(page["DBSnapshots"])
        for page in rds.get_paginator("describe_db_snapshots").paginate():
            snapshots.extend(s for s in page["DBSnapshots"] if self.mine(_tags(s.get("TagList"))))
        for snap in snapshots:
            self.remnant(
                region, "rds:snapshot", snap["DBSnapshotArn"], snap.get("SnapshotType", "")
            )
        try:
            backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=self.db_id)
        except Exception as exc:
            if not is_not_found(exc):
                raise
            backups = {}
        for kept in backups.get("DBInstanceAutomatedBackups", []):
            arn = kept.get("DBInstanceAutomatedBackupsArn") or kept.get("DBInstanceArn", "")
            self.remnant(region, "rds:auto-backup", arn, "retained automated backups")
        self.proof.checked.update(
            {f"{region} rds:db", f"{region} rds:snapshot", f"{region} rds:auto-backup"}
        )

    def secrets_and_logs(self, region: str) -> None:
        sm = self.clients.client("secretsmanager", region)
        db_arn = f"arn:aws:rds:{self.target.region}:{self.proof.account}:db:{self.db_id}"
        for values in ([self.target.slug], [db_arn]):
            for page in sm.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "tag-value", "Values": values}]
            ):
                for secret in page["SecretList"]:
                    tags = _tags(secret.get("Tags"))
                    if self.mine(tags) or db_arn in tags.values():
                        self.remnant(
                            region, "secretsmanager:secret", secret["ARN"], secret.get("Name", "")
                        )
        logs = self.clients.client("logs", region)
        # The stack's names: /tenant/{instance id}/... and RDS's exports; the trailing "/" keeps
        # tenant "acme" from matching "acme-corp".
        prefixes = (f"/tenant/{self.target.names}/", f"/aws/rds/instance/{self.db_id}/")
        pages = (
            page
            for prefix in prefixes
            for page in logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=prefix
            )
        )
        for page in pages:
            for group in page["logGroups"]:
                self.remnant(
                    region, "logs:log-group", group["arn"].removesuffix(":*"), group["logGroupName"]
                )
        self.proof.checked.update({f"{region} secretsmanager:secret", f"{region} logs:log-group"})

    def backups(self, region: str, tenant_vaults: set[str], role_arn: str | None = None) -> None:
        backup = self.clients.client("backup", region, role_arn=role_arn)
        vaults = [
            v
            for p in backup.get_paginator("list_backup_vaults").paginate()
            for v in p["BackupVaultList"]
        ]
        for vault in vaults:
            name = vault["BackupVaultName"]
            mine = vault["BackupVaultArn"] in tenant_vaults
            pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
                BackupVaultName=name
            )
            locked: bool | None = None
            for point in (p for page in pages for p in page.get("RecoveryPoints", [])):
                source = point.get("ResourceArn", "")
                if not (mine or source.endswith(f":db:{self.db_id}")):
                    continue
                if locked is None:
                    locked = self.vault_locked(region, name, role_arn)
                if locked and self._shredded(region, name, point, role_arn):
                    continue
                self.remnant(
                    region, "backup:recovery-point", point["RecoveryPointArn"], f"of {source}"
                )
        self.proof.checked.update(
            {f"{region} backup:recovery-point", f"{region} backup:backup-vault"}
        )


    def _shredded(self, region: str, vault: str, point: dict[str, Any],
                  role_arn: str | None) -> bool:
        """A locked recovery point whose key is going: unreadable now, deleted at DeleteAt."""
        backup = self.clients.client("backup", region, role_arn=role_arn)
        arn = point["RecoveryPointArn"]
        detail = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=arn)
        key = detail.get("EncryptionKeyArn") or point.get("EncryptionKeyArn")
        if not key:
            return False  # not known to be encrypted under a key that is going
        state = self.key_going(region, str(key), role_arn)
        if state is not None:
            self.remnant(region, "backup:recovery-point", arn,
                         f"locked, but its key {key} is {state}: still readable")
            return True  # reported, with the reason
        expires = (detail.get("CalculatedLifecycle") or {}).get("DeleteAt")
        self.proof.pending.append({
            "arn": arn, "region": region, "kind": "backup:recovery-point",
            "deletion_date": expires.isoformat() if expires else "", "key": str(key)})
        return True


def prove_deletion(clients: Clients, target: Target, now: datetime) -> Proof:
    """Read every region the tenant used; the proof passes when nothing of it remains."""
    with aws_errors():
        proof = Proof(
            slug=target.slug,
            location=target.location.code,
            regions=target.regions,
            account=account_id(clients, target.region),
            checked_at=now,
        )
        sweep = _Sweep(clients, target, proof)
        discovery = Discovery(clients, target.slug, target.region)
        for region in target.regions:
            tagged = discovery.tagged(region)
            proof.checked.add(f"{region} tagging:tenant={target.slug}")
            for resource in tagged:
                sweep.tagged(region, resource)
            if region == target.region:
                sweep.key(region, target.key_alias)
            sweep.ec2(region)
            sweep.rds(region)
            sweep.secrets_and_logs(region)
            sweep.backups(region, {r.arn for r in tagged if r.kind == "backup:backup-vault"})
        # The location's backup account: its per-tenant key and the copies, read as the
        # platform's backup role there.
        from provisioner.regions import catalogue

        backup = target.location.backup
        role = catalogue().platform.backup_role_arn(backup.account_id)
        sweep.key(backup.region, target.key_alias, role_arn=role)
        copies = clients.client("backup", backup.region, role_arn=role)
        names = {f"tenant-{target.names}-copy", f"tenant-{target.names}-air-gapped"}  # the stack's
        vaults = {
            v["BackupVaultArn"]
            for p in copies.get_paginator("list_backup_vaults").paginate()
            for v in p["BackupVaultList"]
            if v["BackupVaultName"] in names
        }
        sweep.backups(backup.region, vaults, role_arn=role)
        proof.checked.add(f"{backup.region} backup-account:{backup.account_id}")
    return proof
