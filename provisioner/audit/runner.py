"""`audit_tenant`: discover a tenant's live resources by tag and hold them to the promises."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from provisioner.audit import (
    checks_backup,
    checks_hardening,
    checks_lb,
    checks_monitoring,
    checks_storage,
)
from provisioner.audit.clients import Clients, aws_errors, is_not_found
from provisioner.audit.context import Context, resolve_tenant_key
from provisioner.audit.discovery import GLOBAL, Discovery, account_id, enabled_regions
from provisioner.audit.model import Report, Target
from provisioner.promises import REQUIRED_TAGS

_REGION_WORKERS = 8  # regions are independent; AWS throttles per region, not per account
# What every tenant stack has: a missing kind means the tenant is incomplete or untagged.
EXPECTED_KINDS = {
    "ec2:instance": "app server",
    "ec2:volume": "data volume",
    "elasticloadbalancing:loadbalancer": "load balancer",
    "logs:log-group": "log group",
    "backup:backup-vault": "backup vault",
}


def _check_tags(ctx: Context) -> None:
    for resource in ctx.resources:
        tags = dict(resource.tags)
        missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
        wrong = tags.get("location") not in (None, ctx.target.location.code)
        if missing or wrong:
            why = f"missing tag(s) {', '.join(missing)}" if missing else ""
            if wrong:
                why = f"{why}; " if why else ""
                why += f"tag location={tags.get('location')}, not {ctx.target.location.code}"
            ctx.report.fail("tagging", "tags.required", resource.arn, resource.region, why)
        else:
            ctx.report.check("tags.required", resource.arn)


def _check_inventory(ctx: Context) -> None:
    target, report = ctx.target, ctx.report
    for kind, what in sorted(EXPECTED_KINDS.items()):
        if ctx.of_kind(kind):
            continue
        service, kind_type = kind.split(":", 1)
        expected = f"arn:aws:{service}:{target.region}:{report.account}:{kind_type}/*"
        report.fail(
            "tagging",
            "inventory.present",
            expected,
            target.region,
            f"no {what} tagged tenant={target.slug} in {target.region}",
        )
    rds: Any = ctx.client("rds")
    db_arn = f"arn:aws:rds:{target.region}:{report.account}:db:{target.db_identifier}"
    if any(r.arn == db_arn for r in ctx.of_kind("rds:db")):
        return
    try:
        dbs = rds.describe_db_instances(DBInstanceIdentifier=target.db_identifier)["DBInstances"]
    except Exception as exc:
        if not is_not_found(exc):
            raise
        report.fail(
            "tagging", "inventory.present", db_arn, target.region, "the database does not exist"
        )
        return
    report.fail(
        "tagging",
        "inventory.present",
        db_arn,
        target.region,
        f"the database is not tagged tenant={target.slug}: it escapes audits and deletion",
    )
    for db in dbs:
        checks_storage.check_db_instance(ctx, db)


def check_residency(ctx: Context, regions: list[str], workers: int = _REGION_WORKERS) -> None:
    """No resource tagged for the tenant outside its own region and its backup destination."""
    discovery = Discovery(ctx.clients, ctx.target.slug, ctx.target.region)
    foreign = [r for r in regions if r not in ctx.target.regions]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(discovery.tagged, foreign))
    for region, resources in zip(foreign, found, strict=True):
        ctx.report.check("residency.region", f"region:{region}")
        for resource in resources:
            if resource.region == GLOBAL:
                continue  # an IAM role is listed from every region; it stores no data
            ctx.report.fail(
                "residency",
                "residency.region",
                resource.arn,
                resource.region,
                f"tagged tenant={ctx.target.slug} in {resource.region}, outside"
                f" {' and '.join(ctx.target.regions)} ({ctx.target.location.jurisdiction})",
            )


def audit_tenant(
    clients: Clients,
    target: Target,
    regions: list[str] | None = None,
    region_workers: int = _REGION_WORKERS,
    now: datetime | None = None,
) -> Report:
    """Audit one tenant on the live account; `regions` limits the residency sweep (default: all
    regions enabled on the account); `now` is when backup jobs are judged from (default: now)."""
    with aws_errors():
        account = account_id(clients, target.region)
        report = Report(
            slug=target.slug, location=target.location.code, region=target.region, account=account
        )
        ctx = Context(clients=clients, target=target, report=report)
        ctx.resources = Discovery(clients, target.slug, target.region).tagged(target.region)
        resolve_tenant_key(ctx)
        _check_tags(ctx)
        _check_inventory(ctx)
        checks_storage.check_volumes(ctx)
        checks_storage.check_databases(ctx)
        checks_storage.check_log_groups(ctx)
        checks_storage.check_flow_logs(ctx)
        checks_lb.check_load_balancers(ctx)
        checks_backup.check_vaults(ctx)
        checks_backup.check_plans(ctx)
        checks_hardening.check_key_policy(ctx)
        checks_hardening.check_database(ctx)
        checks_hardening.check_waf(ctx)
        checks_hardening.check_mail(ctx)
        checks_hardening.check_vault_locks(ctx)
        checks_monitoring.check_monitoring(ctx, now)
        sweep = regions if regions is not None else enabled_regions(clients, target.region)
        check_residency(ctx, sweep, region_workers)
    return report
