"""The tenant stack: one ComponentResource built from a TenantSpec, and the program that runs it.

`tenant_program(spec)` is the whole Pulumi program. Three drivers run it: plain `pulumi up` in
stacks/tenant (reading stack config), the orchestrator's engine, and the offline planner
(provisioner.synth) under Pulumi's mock runtime. It is a pure function of the spec and the
catalogue: no registry, no boto3, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pulumi
import pulumi_aws as aws

from provisioner.errors import UsageError
from provisioner.plans import get_plan
from provisioner.regions import Catalogue, catalogue
from provisioner.spec import TenantSpec
from stacks.components.alarms import Alarms, EnhancedMonitoring, Watched
from stacks.components.app_config import AppConfig
from stacks.components.backup import Backup
from stacks.components.base import TenantPart
from stacks.components.compute import Compute
from stacks.components.database import Database
from stacks.components.db_bootstrap import DatabaseBootstrap
from stacks.components.edge import Edge
from stacks.components.keys import Keys, backup_account_provider
from stacks.components.network import Network
from stacks.components.observability import Observability, db_identifier
from stacks.components.patching import Patching
from stacks.region.platform import wildcard_names

# Bumped whenever the program changes what it creates; recorded per tenant by the registry so
# workers know which tenants still run an older program.
PROGRAM_VERSION = "2026.12.1"


def hostname_for(spec: TenantSpec, regions: Catalogue) -> str:
    return f"{spec.slug}.{regions.domain}"


def mail_hostname_for(spec: TenantSpec, regions: Catalogue) -> str:
    """Where mail clients connect. A tenant built directly: `mail.<slug>.<domain>`, on its own
    certificate (as it always was). A pooled instance: `<slug>.mail.<domain>`, one label under
    `mail.<domain>`, so the region's wildcard certificate covers it (a wildcard matches one label
    only: `*.<domain>` cannot cover `mail.<slug>.<domain>`) and binding changes only DNS."""
    if spec.pooled:
        return f"{spec.slug}.{wildcard_mail_zone(regions)}"
    return f"mail.{hostname_for(spec, regions)}"


def wildcard_mail_zone(regions: Catalogue) -> str:
    """The zone whose one-label names the wildcard's `*.mail.<domain>` covers."""
    return wildcard_names(regions.domain)[1].removeprefix("*.")


def wildcard_domain(regions: Catalogue) -> str:
    """The name of the wildcard certificate each region's platform stack issues once for the
    tenants' domain (with `*.mail.<domain>` beside it, for the mail names); pooled instances
    find it by this name (an ACM lookup, no per-tenant validation on the signup path)."""
    return wildcard_names(regions.domain)[0]


def wildcard_certificate_arn(spec: TenantSpec, regions: Catalogue) -> pulumi.Output[str]:
    found = aws.acm.get_certificate_output(
        domain=wildcard_domain(regions), statuses=["ISSUED"], most_recent=True, region=spec.region
    )
    return found.arn


class TenantStack(TenantPart):
    """Everything one tenant has, in its own region (and its backup destination)."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        regions: Catalogue | None = None,
        app_zone: str | None = None,
        suspended: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        zones = spec.location.zones[:2]  # the zones the subnets cover
        # The engine asks for another zone of the same region when AWS has no capacity in the
        # first (never another region): the app server and its data volume move there.
        app_zone = app_zone or zones[0]
        if app_zone not in zones:
            raise UsageError(
                f"zone {app_zone!r} is not one of {spec.location.code}'s zones: {', '.join(zones)}"
            )
        super().__init__("Tenant", name, spec, opts)
        regions = regions or catalogue()
        account_id = aws.get_caller_identity_output().account_id
        hostname = hostname_for(spec, regions)
        # The app server's own name (the CN of its self-signed certificate behind the load
        # balancer, in its user data): a pooled instance's never changes when it is bound.
        server_name = f"{spec.instance_id}.{regions.domain}" if spec.pooled else hostname
        child = pulumi.ResourceOptions(parent=self)

        backup_provider = backup_account_provider("backup-account", spec, parent=self)
        keys = Keys(
            "keys", spec, account_id=account_id, backup_provider=backup_provider, opts=child
        )
        logs = Observability("observability", spec, key_arn=keys.key.arn, opts=child)
        network = Network("network", spec, flow_log_group_arn=logs.flow_logs.arn, opts=child)
        private_ids = [s.id for s in network.private_subnets]
        monitoring = EnhancedMonitoring("enhanced-monitoring", spec, opts=child)
        database = Database(
            "database",
            spec,
            key_arn=keys.key.arn,
            subnet_ids=private_ids,
            security_group_id=network.db_sg.id,
            log_groups=logs.db_groups,
            monitoring_role_arn=monitoring.role.arn,
            opts=child,
        )
        DatabaseBootstrap(
            "db-bootstrap",
            spec,
            key_arn=keys.key.arn,
            subnet_ids=private_ids,
            security_group_id=network.bootstrap_sg.id,
            database=database.instance,
            account_id=account_id,
            opts=child,
        )
        compute = Compute(
            "compute",
            spec,
            key_arn=keys.key.arn,
            subnet_id=private_ids[zones.index(app_zone)],
            availability_zone=app_zone,
            security_group_id=network.app_sg.id,
            db_host=database.instance.address,
            db_resource_id=database.instance.resource_id,
            account_id=account_id,
            log_group_name=logs.app.name,
            session_log_group_name=logs.ssm_sessions.name,
            hostname=server_name,
            suspended=suspended,
            opts=child,
        )
        Patching("patching", spec, instance_id=compute.instance.id, opts=child)
        edge = Edge(
            "edge",
            spec,
            hostname=hostname,
            mail_hostname=mail_hostname_for(spec, regions),
            hosted_zone_id=regions.hosted_zone_id,
            vpc_id=network.vpc.id,
            subnet_ids=[s.id for s in network.public_subnets],
            security_group_id=network.lb_sg.id,
            instance_id=compute.instance.id,
            account_id=account_id,
            mail_security_group_id=network.mail_sg.id,
            waf_log_group_arn=logs.waf.arn,
            suspended=suspended,
            wildcard_certificate_arn=(
                wildcard_certificate_arn(spec, regions) if spec.pooled else None
            ),
            opts=child,
        )
        Alarms(
            "alarms",
            spec,
            Watched(
                load_balancer=edge.lb.arn_suffix,
                target_group=edge.target_group.arn_suffix,
                instance_id=compute.instance.id,
                db_identifier=db_identifier(spec),
                certificate_arn=edge.certificate_arn,
            ),
            account_id=account_id,
            suspended=suspended,
            opts=child,
        )
        if spec.pooled:
            AppConfig(
                "app-config",
                spec,
                hostname,
                mail_hostname=edge.mail_hostname,
                app_role_id=compute.role.id,
                opts=child,
            )
        backup = Backup(
            "backup",
            spec,
            key_arn=keys.key.arn,
            destination_key_arn=keys.backup_key.arn,
            protected_arns=[database.instance.arn, compute.instance.arn, compute.data_volume.arn],
            account_id=account_id,
            backup_provider=backup_provider,
            legacy_replica_arn=keys.legacy_replica_arn,
            opts=child,
        )
        self.outputs: dict[str, pulumi.Input[str]] = {
            "hostname": hostname,
            "url": f"https://{hostname}",
            "region": spec.region,
            "load_balancer_dns_name": edge.lb.dns_name,
            "mail_hostname": edge.mail_hostname,
            "database_endpoint": database.instance.address,
            "key_arn": keys.key.arn,
            "backup_vault": backup.vault.name,
            "backup_copy_vault_arn": backup.copy_vault.arn,
            "program_version": PROGRAM_VERSION,
            "suspended": "true" if suspended else "false",
        }
        self.register_outputs(self.outputs)


def spec_from_config(get: Callable[[str], str | None]) -> TenantSpec:
    """The spec a stack's `tenant:` configuration describes (`get("slug")` -> its value, or None):
    the inverse of the engine's stack_config. `instance-id` and `bound` are set for warm-pool
    instances only; an unbound one's slug is its instance id; `legacy-backup` only while the
    stack keeps its pre-backup-account copy."""

    def require(key: str) -> str:
        value = get(key)
        if not value:
            raise UsageError(f"stack configuration tenant:{key} is missing: set it")
        return value

    instance_id = get("instance-id")
    if instance_id and get("bound") == "false":
        return TenantSpec.for_pool(
            instance_id, catalogue().resolve(require("location")), get_plan(require("plan"))
        )
    spec = TenantSpec.create(
        require("slug"),
        require("location"),
        require("plan"),
        instance_id=instance_id or None,
        admin_email=get("admin-email"),
    )
    return replace(spec, legacy_backup=True) if get("legacy-backup") == "true" else spec


def tenant_program(
    spec: TenantSpec,
    regions: Catalogue | None = None,
    app_zone: str | None = None,
    suspended: bool = False,
) -> TenantStack:
    """The Pulumi program for one tenant: the component plus its stack outputs.

    `suspended` keeps every byte of data and every promise, but stops the app server and makes
    the load balancer answer 503 over HTTPS (with HSTS) instead of forwarding."""
    stack = TenantStack(spec.stack_name, spec, regions, app_zone=app_zone, suspended=suspended)
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
    return stack
