"""Restores and restore drills.

A restore creates new resources next to the tenant's (it never overwrites): the database from a
point in time or a snapshot, into the tenant's own subnet group and security groups, with its
parameter group (TLS required), not public, with a managed master password; volumes from their
snapshots in the same zone, encrypted with the tenant key. Both are then checked with the same
rules as the audit. Switching the app over is a stack change, not part of the restore.

A drill restores the latest snapshots into a scratch copy, checks it, times it against the
8-hour promise, and deletes the scratch copy again, whatever happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioner.audit.backups import context
from provisioner.audit.checks_storage import check_db_instance
from provisioner.audit.clients import Clients, aws_errors, is_not_found
from provisioner.audit.context import Context
from provisioner.audit.model import Finding, Target
from provisioner.errors import CheckFailed, UsageError
from provisioner.promises import RESTORE_OBJECTIVE_SECONDS

_POLL_SECONDS = 30  # RDS restores take minutes to hours; AWS's own waiters poll every 30 s
_MAX_POLLS = RESTORE_OBJECTIVE_SECONDS // _POLL_SECONDS  # give up when the promise is broken


@dataclass
class Restored:
    """What a restore created and what the checks found on it."""

    db_identifier: str | None = None
    db_arn: str | None = None
    volumes: list[str] = field(default_factory=list)
    source: str = ""
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "db_identifier": self.db_identifier,
            "db_arn": self.db_arn,
            "volumes": sorted(self.volumes),
            "source": self.source,
            "passed": not self.findings,
            "findings": [f.to_dict() for f in sorted(self.findings)],
        }


def _tags(target: Target, slug: str, extra: dict[str, str]) -> list[dict[str, str]]:
    pairs = {
        "tenant": slug,
        "location": target.location.code,
        "managed-by": "provisioner",
        **extra,
    }
    return [{"Key": k, "Value": v} for k, v in sorted(pairs.items())]


def _with_plan(ctx: Context, tags: list[dict[str, str]], snap: dict[str, Any] | None) -> Any:
    """`tags` with the tenant's `plan` (every copy carries all required tags, or the audit's
    tags.required rule fails it): from the source database, else from the volume snapshot."""
    try:
        source = _source_db(ctx).get("TagList", [])
    except UsageError:
        source = []
    for found in (source, (snap or {}).get("Tags", [])):
        plan = {t["Key"]: t["Value"] for t in found}.get("plan")
        if plan:
            return sorted([*tags, {"Key": "plan", "Value": plan}], key=lambda t: t["Key"])
    return tags


def _source_db(ctx: Context) -> dict[str, Any]:
    rds: Any = ctx.client("rds")
    try:
        return dict(
            rds.describe_db_instances(DBInstanceIdentifier=ctx.target.db_identifier)["DBInstances"][
                0
            ]
        )
    except Exception as exc:
        if is_not_found(exc):
            raise UsageError(
                f"tenant {ctx.target.slug!r} has no database {ctx.target.db_identifier} in"
                f" {ctx.target.region}: check the slug and --location"
            ) from exc
        raise


def _db_options(source: dict[str, Any], ctx: Context, scratch: bool) -> dict[str, Any]:
    """Same network, parameter group (TLS) and size as the source; never public.

    A scratch copy (drill) is single-zone and deletable; a real restore keeps the source's
    standby and deletion protection.
    """
    plan = {t["Key"]: t["Value"] for t in source.get("TagList", [])}.get("plan", "")
    options: dict[str, Any] = {
        "DBInstanceClass": source["DBInstanceClass"],
        "PubliclyAccessible": False,
        "MultiAZ": False if scratch else bool(source.get("MultiAZ")),
        "DeletionProtection": False if scratch else bool(source.get("DeletionProtection")),
        "CopyTagsToSnapshot": True,
        "ManageMasterUserPassword": True,
    }
    if ctx.tenant_key_arn:
        options["MasterUserSecretKmsKeyId"] = ctx.tenant_key_arn
    if source.get("EnabledCloudwatchLogsExports"):
        options["EnableCloudwatchLogsExports"] = source["EnabledCloudwatchLogsExports"]
    if source.get("DBSubnetGroup", {}).get("DBSubnetGroupName"):
        options["DBSubnetGroupName"] = source["DBSubnetGroup"]["DBSubnetGroupName"]
    groups = [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])]
    if groups:
        options["VpcSecurityGroupIds"] = groups
    params = [g["DBParameterGroupName"] for g in source.get("DBParameterGroups", [])]
    if params:
        options["DBParameterGroupName"] = params[0]
    if plan:
        options["_plan"] = plan
    return options


def _wait_db(ctx: Context, identifier: str, poll: float) -> dict[str, Any]:
    rds: Any = ctx.client("rds")
    rds.get_waiter("db_instance_available").wait(
        DBInstanceIdentifier=identifier,
        WaiterConfig={"Delay": poll, "MaxAttempts": _MAX_POLLS},
    )
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def _restore_db(
    ctx: Context,
    new_id: str,
    tags: list[dict[str, str]],
    *,
    snapshot: str | None = None,
    to: datetime | None = None,
    poll: float = _POLL_SECONDS,
    scratch: bool = False,
) -> dict[str, Any]:
    rds: Any = ctx.client("rds")
    source = _source_db(ctx)
    options = _db_options(source, ctx, scratch)
    plan = options.pop("_plan", "")
    if plan and not any(tag["Key"] == "plan" for tag in tags):
        tags = [*tags, {"Key": "plan", "Value": plan}]
    if snapshot is not None:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=new_id, DBSnapshotIdentifier=snapshot, Tags=tags, **options
        )
    else:
        when = {"RestoreTime": to} if to is not None else {"UseLatestRestorableTime": True}
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=ctx.target.db_identifier,
            TargetDBInstanceIdentifier=new_id,
            Tags=tags,
            **when,
            **options,
        )
    return _wait_db(ctx, new_id, poll)


def _latest_volume_snapshots(ctx: Context, before: datetime | None) -> list[dict[str, Any]]:
    """For each tagged data volume of the tenant, its newest completed snapshot (<= before)."""
    ec2: Any = ctx.client("ec2")
    by_tag = [{"Name": "tag:tenant", "Values": [ctx.target.slug]}]
    volumes = [
        v
        for page in ec2.get_paginator("describe_volumes").paginate(Filters=by_tag)
        for v in page["Volumes"]
    ]
    chosen = []
    for volume in sorted(volumes, key=lambda v: v["VolumeId"]):
        pages = ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [volume["VolumeId"]]}]
        )
        snaps = [
            s
            for page in pages
            for s in page["Snapshots"]
            if s.get("State") == "completed" and (before is None or s["StartTime"] <= before)
        ]
        if snaps:
            newest = max(snaps, key=lambda s: s["StartTime"])
            chosen.append(
                {**newest, "_zone": volume["AvailabilityZone"], "_type": volume.get("VolumeType")}
            )
    return chosen


def _restore_volume(
    ctx: Context, snap: dict[str, Any], zone: str | None, tags: list[dict[str, str]], poll: float
) -> dict[str, Any]:
    ec2: Any = ctx.client("ec2")
    if ctx.tenant_key_arn is None:
        raise CheckFailed(f"no tenant key {ctx.target.key_alias}: cannot restore encrypted volumes")
    args: dict[str, Any] = {
        "SnapshotId": snap["SnapshotId"],
        "AvailabilityZone": zone or ctx.target.location.zones[0],
        "Encrypted": True,
        "KmsKeyId": ctx.tenant_key_arn,
        "TagSpecifications": [{"ResourceType": "volume", "Tags": tags}],
    }
    if snap.get("_type"):
        args["VolumeType"] = snap["_type"]
    volume_id = ec2.create_volume(**args)["VolumeId"]
    ec2.get_waiter("volume_available").wait(
        VolumeIds=[volume_id], WaiterConfig={"Delay": poll, "MaxAttempts": _MAX_POLLS}
    )
    return dict(ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0])


def _check_restored(
    ctx: Context, db: dict[str, Any] | None, volumes: list[dict[str, Any]]
) -> list[Finding]:
    """The audit's own rules on the restored copy."""
    before = len(ctx.report.findings)
    if db is not None:
        check_db_instance(ctx, db)
    for volume in volumes:
        arn = f"arn:aws:ec2:{ctx.target.region}:{ctx.report.account}:volume/{volume['VolumeId']}"
        if volume.get("Encrypted") and ctx.is_tenant_key(volume.get("KmsKeyId")):
            ctx.report.check("ebs.encrypted-with-tenant-key", arn)
        else:
            ctx.report.fail(
                "at-rest",
                "ebs.encrypted-with-tenant-key",
                arn,
                ctx.target.region,
                f"restored volume key {volume.get('KmsKeyId')} is not the tenant key"
                f" {ctx.expected_key()}",
            )
    return list(ctx.report.findings[before:])


def restore(
    clients: Clients,
    target: Target,
    *,
    now: datetime,
    to: datetime | None = None,
    snapshot: str | None = None,
    as_slug: str | None = None,
    poll: float = _POLL_SECONDS,
) -> Restored:
    """Restore the database (and, for --to, the volumes) next to the tenant's own."""
    if (to is None) == (snapshot is None):
        raise UsageError("give --to ISO or --snapshot ID, not both or neither")
    stamp = now.strftime("%Y%m%d%H%M")
    slug = as_slug or target.slug
    new_id = f"t-{as_slug}-db" if as_slug else f"{target.db_identifier}-r{stamp}"
    with aws_errors():
        ctx = context(clients, target)
        ctx.report.findings.clear()  # only findings about the restored copy count here
        tags = _tags(target, slug, {"restored-from": snapshot or f"{target.db_identifier}@{to}"})
        result = Restored(
            source=snapshot or f"{target.db_identifier} at {to.isoformat() if to else ''}"
        )
        db = None
        volumes: list[dict[str, Any]] = []
        if snapshot is not None and snapshot.startswith("snap-"):
            snap = ctx.client("ec2").describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
            volumes.append(_restore_volume(ctx, snap, None, _with_plan(ctx, tags, snap), poll))
        else:
            tags = _with_plan(ctx, tags, None)
            db = _restore_db(ctx, new_id, tags, snapshot=snapshot, to=to, poll=poll)
            result.db_identifier, result.db_arn = new_id, db["DBInstanceArn"]
            if to is not None:
                for snap in _latest_volume_snapshots(ctx, to):
                    volumes.append(_restore_volume(ctx, snap, snap["_zone"], tags, poll))
        result.volumes = [v["VolumeId"] for v in volumes]
        result.findings = _check_restored(ctx, db, volumes)
    return result


@dataclass
class Drill:
    """The outcome of one restore drill."""

    slug: str
    started_at: datetime
    duration_seconds: float  # restore + checks, measured; cleanup is not counted
    objective_seconds: int
    restored: Restored
    cleaned_up: bool
    cleanup_errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.restored.findings
            and self.duration_seconds <= self.objective_seconds
            and self.cleaned_up
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.slug,
            "started_at": self.started_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "objective_seconds": self.objective_seconds,
            "within_objective": self.duration_seconds <= self.objective_seconds,
            "restored": self.restored.to_dict(),
            "cleaned_up": self.cleaned_up,
            "cleanup_errors": self.cleanup_errors,
            "passed": self.passed,
        }


def _latest_db_snapshot(ctx: Context) -> str:
    rds: Any = ctx.client("rds")
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=ctx.target.db_identifier
    )
    snaps = [s for page in pages for s in page["DBSnapshots"] if s.get("Status") == "available"]
    if not snaps:
        raise CheckFailed(
            f"no available snapshot of {ctx.target.db_identifier} in {ctx.target.region}: the"
            " tenant has nothing to restore from (check its backup plan with 'provisioner audit')"
        )
    return str(max(snaps, key=lambda s: s["SnapshotCreateTime"])["DBSnapshotIdentifier"])


def _cleanup(ctx: Context, restored: Restored, poll: float) -> list[str]:
    """Delete the scratch copy; return what could not be deleted (empty: all gone)."""
    errors: list[str] = []
    rds: Any = ctx.client("rds")
    ec2: Any = ctx.client("ec2")
    if restored.db_identifier:
        try:
            rds.delete_db_instance(
                DBInstanceIdentifier=restored.db_identifier,
                SkipFinalSnapshot=True,
                DeleteAutomatedBackups=True,
            )
            rds.get_waiter("db_instance_deleted").wait(
                DBInstanceIdentifier=restored.db_identifier,
                WaiterConfig={"Delay": poll, "MaxAttempts": _MAX_POLLS},
            )
        except Exception as exc:
            if not is_not_found(exc):
                errors.append(f"{restored.db_identifier}: {exc}")
    for volume_id in restored.volumes:
        try:
            ec2.delete_volume(VolumeId=volume_id)
            ec2.get_waiter("volume_deleted").wait(
                VolumeIds=[volume_id], WaiterConfig={"Delay": poll, "MaxAttempts": _MAX_POLLS}
            )
        except Exception as exc:
            if not is_not_found(exc):
                errors.append(f"{volume_id}: {exc}")
    return errors


def drill(
    clients: Clients,
    target: Target,
    *,
    now: datetime,
    clock: Callable[[], float] = time.monotonic,
    poll: float = _POLL_SECONDS,
) -> Drill:
    """Restore the latest snapshots into a scratch copy, check and time it, then delete it."""
    scratch = f"t-{target.slug}-drill-{now:%Y%m%d%H%M}"
    tags = _tags(target, target.slug, {"purpose": "restore-drill"})
    with aws_errors():
        ctx = context(clients, target)
        ctx.report.findings.clear()
        tags = _with_plan(ctx, tags, None)
        restored = Restored(db_identifier=None)
        start = clock()
        try:
            snapshot = _latest_db_snapshot(ctx)
            restored.source = snapshot
            restored.db_identifier = scratch  # set first: cleanup must find it even on failure
            db = _restore_db(ctx, scratch, tags, snapshot=snapshot, poll=poll, scratch=True)
            restored.db_arn = db["DBInstanceArn"]
            volumes = []
            for snap in _latest_volume_snapshots(ctx, None):
                volume = _restore_volume(ctx, snap, snap["_zone"], tags, poll)
                restored.volumes.append(volume["VolumeId"])
                volumes.append(volume)
            restored.findings = _check_restored(ctx, db, volumes)
            duration = clock() - start
        finally:
            errors = _cleanup(ctx, restored, poll)
    return Drill(
        slug=target.slug,
        started_at=now,
        duration_seconds=duration,
        objective_seconds=RESTORE_OBJECTIVE_SECONDS,
        restored=restored,
        cleaned_up=not errors,
        cleanup_errors=errors,
    )
