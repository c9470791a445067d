"""What every check receives: the clients, the tenant, its discovered resources, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.audit.clients import Clients, is_not_found
from provisioner.audit.discovery import Tagged, of_kind
from provisioner.audit.model import Report, Target


@dataclass
class Context:
    clients: Clients
    target: Target
    report: Report
    resources: list[Tagged] = field(default_factory=list)  # tagged, in the tenant's region
    tenant_key_arn: str | None = None  # the key behind alias/tenant-{slug}, once resolved

    def of_kind(self, kind: str) -> list[Tagged]:
        return of_kind(self.resources, kind)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.clients.client(service, region or self.target.region)

    def backup_account_client(self, service: str) -> Any:
        """A client in the location's backup account and region, as the platform's backup role
        (regions.yaml `platform.backup_role`): the tenant's account cannot read it."""
        from provisioner.regions import catalogue

        backup = self.target.location.backup
        role = catalogue().platform.backup_role_arn(backup.account_id)
        return self.clients.client(service, backup.region, role_arn=role)

    def backup_plans(self) -> list[str]:
        """The tenant's backup plan ARNs: from the tagging API when it lists them (AWS does),
        else by listing plans and their tags (one call per plan in the region)."""
        from provisioner.audit.discovery import Discovery

        listed = [r.arn for r in self.of_kind("backup:backup-plan")]
        if listed:
            return listed
        return Discovery(self.clients, self.target.slug, self.target.region).backup_plans(
            self.target.region
        )

    def expected_key(self) -> str:
        """What findings name as the key they expected."""
        return self.tenant_key_arn or f"{self.target.key_alias} (missing)"

    def is_tenant_key(self, key: str | None) -> bool:
        """True when `key` (an ARN or id) is the tenant's key or one of its replicas.

        A multi-region key and its replicas share the key id (`mrk-...`), so comparing ids
        accepts the replica in the backup region and nothing else.
        """
        if not key or not self.tenant_key_arn:
            return False
        return key.rsplit("/", 1)[-1] == self.tenant_key_arn.rsplit("/", 1)[-1]


def resolve_tenant_key(ctx: Context) -> None:
    """Find the tenant key by alias; check it is enabled and rotated."""
    kms = ctx.clients.client("kms", ctx.target.region)
    alias_arn = f"arn:aws:kms:{ctx.target.region}:{ctx.report.account}:{ctx.target.key_alias}"
    try:
        meta = kms.describe_key(KeyId=ctx.target.key_alias)["KeyMetadata"]
    except Exception as exc:
        if not is_not_found(exc):
            raise
        ctx.report.fail(
            "at-rest",
            "kms.tenant-key",
            alias_arn,
            ctx.target.region,
            f"no KMS key behind {ctx.target.key_alias}: the tenant has no key of its own",
        )
        return
    ctx.tenant_key_arn = meta["Arn"]
    arn = meta["Arn"]
    ctx.report.check("kms.tenant-key", arn)
    if meta.get("KeyState") != "Enabled":
        ctx.report.fail(
            "at-rest",
            "kms.tenant-key",
            arn,
            ctx.target.region,
            f"tenant key is {meta.get('KeyState')}, not Enabled",
        )
    rotation = kms.get_key_rotation_status(KeyId=meta["KeyId"]).get("KeyRotationEnabled")
    if rotation:
        ctx.report.check("kms.rotation", arn)
    else:
        ctx.report.fail(
            "at-rest", "kms.rotation", arn, ctx.target.region, "automatic key rotation is off"
        )
