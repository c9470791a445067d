"""Instance identity: names in the cloud come from the instance id, the slug is only what the
customer sees, and a tenant created directly (instance id = slug) is planned as it always was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioner.errors import UsageError
from provisioner.plans import get_plan
from provisioner.regions import catalogue
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan

SLUG = "acme-corp"
# Inputs that are names or descriptions in AWS (tags, DNS and the app's configuration aside).
NAME_INPUTS = (
    "name",
    "identifier",
    "bucket",
    "description",
    "namePrefix",
    "finalSnapshotIdentifier",
)


def _by_type(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_token]


def test_a_direct_tenants_instance_id_is_its_slug() -> None:
    spec = TenantSpec.create(SLUG, "de", "trial")
    assert spec.instance_id == SLUG and not spec.pooled and spec.bound
    assert (spec.stack_name, spec.resource_prefix) == (f"tenant-{SLUG}", f"t-{SLUG}")
    assert set(spec.to_dict()) == {"slug", "location", "region", "jurisdiction", "plan",
                                   "backup_region", "backup_mode", "backup_account_id"}  # fmt: skip


@pytest.mark.parametrize(
    ("location", "plan"),
    [(code, "trial") for code in catalogue().locations]
    + [("us", name) for name in ("standard", "enterprise", "free")],
)
def test_a_direct_tenant_keeps_its_own_certificate_and_no_pool_parts(
    location: str, plan: str
) -> None:
    result = synth_plan(TenantSpec.create(SLUG, location, plan))
    (certificate,) = _by_type(result, "aws:acm/certificate:Certificate")
    assert certificate["inputs"]["domainName"] == f"{SLUG}.{catalogue().domain}"
    records = {r["inputs"]["name"] for r in _by_type(result, "aws:route53/record:Record")}
    assert f"{SLUG}.{catalogue().domain}" in records  # the customer's name, as before
    assert _by_type(result, "aws:ssm/parameter:Parameter") == []
    (server,) = _by_type(result, "aws:ec2/instance:Instance")
    assert "CRM_CONFIG_PARAMETER" not in server["inputs"]["userData"]
    assert f"CRM_TENANT={SLUG}\n" in server["inputs"]["userData"]
    assert all(r["urn"].startswith(f"urn:pulumi:tenant-{SLUG}::") for r in result["resources"])


def _names(plan: dict[str, Any]) -> list[str]:
    found = []
    for resource in plan["resources"]:
        if resource["type"] in ("aws:route53/record:Record", "aws:ssm/parameter:Parameter"):
            continue  # the customer's DNS name and the app's configuration
        found += [str(resource["inputs"].get(key, "")) for key in NAME_INPUTS]
        found.append(str(resource["inputs"].get("userData", "")))
    return found


def test_a_bound_pooled_instance_shows_the_slug_only_in_dns_tags_and_app_config() -> None:
    pooled = TenantSpec.for_pool("pool-0a1b2c3d4e", catalogue().resolve("de"), get_plan("trial"))
    plan = synth_plan(pooled.bind(SLUG))
    assert not [name for name in _names(plan) if SLUG in name]
    assert any("pool-0a1b2c3d4e" in name for name in _names(plan))
    records = {r["inputs"]["name"] for r in _by_type(plan, "aws:route53/record:Record")}
    hostname = f"{SLUG}.{catalogue().domain}"
    assert records == {hostname, f"mail.{hostname}"}  # the app's and the mail clients' names
    (config,) = _by_type(plan, "aws:ssm/parameter:Parameter")
    assert json.loads(config["inputs"]["insecureValue"])["slug"] == SLUG
    assert _by_type(plan, "aws:acm/certificate:Certificate") == []  # the region's wildcard
    (https,) = [r for r in _by_type(plan, "aws:lb/listener:Listener") if r["inputs"]["port"] == 443]
    assert https["inputs"]["certificateArn"].endswith(f"/{catalogue().domain}-wildcard")


def test_an_unbound_pooled_instance_has_no_dns_record() -> None:
    pooled = TenantSpec.for_pool("pool-0a1b2c3d4e", catalogue().resolve("us"), get_plan("trial"))
    assert _by_type(synth_plan(pooled), "aws:route53/record:Record") == []


def test_pool_prefixed_slugs_are_reserved_and_only_pooled_specs_bind() -> None:
    with pytest.raises(UsageError, match="reserved for pooled instances"):
        TenantSpec.create("pool-abc", "de", "trial")
    with pytest.raises(UsageError, match="not a pooled instance"):
        TenantSpec.create(SLUG, "de", "trial").bind("other")


def _round_trip(spec: TenantSpec) -> TenantSpec:
    from provisioner.engine.settings import stack_config
    from stacks.tenant_stack import spec_from_config

    config = stack_config(spec)
    return spec_from_config(lambda key: config.get(f"tenant:{key}"))


def test_the_stack_configuration_carries_the_instance_identity() -> None:
    direct = TenantSpec.create(SLUG, "de", "trial")
    from provisioner.engine.settings import stack_config

    assert not any("instance-id" in key for key in stack_config(direct))  # as before pools
    pooled = TenantSpec.for_pool("pool-0a1b2c3d4e", catalogue().resolve("jp"), get_plan("trial"))
    for spec in (direct, pooled, pooled.bind(SLUG)):
        assert _round_trip(spec) == spec
