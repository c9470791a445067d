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
    # The app's and the mail clients' names, both one label under a name of the wildcard.
    assert records == {hostname, f"{SLUG}.mail.{catalogue().domain}"}
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


def _covered(name: str, certificate_names: list[str]) -> bool:
    """TLS name matching: a wildcard stands for exactly one (leftmost) label (RFC 6125 6.4.3)."""
    return any(
        name == pattern
        or (pattern.startswith("*.") and name.split(".", 1)[1] == pattern[2:] and "." in name)
        for pattern in certificate_names
    )


@pytest.mark.parametrize("location", ["de", "us"])
def test_the_regions_wildcard_certificate_covers_every_name_a_bound_instance_serves(
    location: str,
) -> None:
    """A bound pooled instance's app and mail names are covered by the certificate the region's
    platform stack issues, the one its listeners use; no certificate of its own."""
    from provisioner.region_plan import plan_region
    from provisioner.region_spec import RegionSpec

    region = plan_region(RegionSpec.create(location, ["email:ops@example.com"]))
    (wildcard,) = _by_type(region, "aws:acm/certificate:Certificate")
    names = [wildcard["inputs"]["domainName"], *wildcard["inputs"]["subjectAlternativeNames"]]
    assert wildcard["inputs"]["validationMethod"] == "DNS"
    validations = _by_type(region, "aws:route53/record:Record")
    assert len(validations) == len(names)  # one DNS validation record per name

    pooled = TenantSpec.for_pool("pool-0a1b2c3d4e", catalogue().resolve(location),
                                 get_plan("trial"))  # fmt: skip
    plan = synth_plan(pooled.bind(SLUG))
    served = {r["inputs"]["name"] for r in _by_type(plan, "aws:route53/record:Record")}
    assert len(served) == 2 and all(_covered(name, names) for name in served), (served, names)
    config = json.loads(_by_type(plan, "aws:ssm/parameter:Parameter")[0]["inputs"]["insecureValue"])
    assert _covered(config["hostname"], names) and _covered(config["mail_hostname"], names)
    assert config["mail_hostname"] in served
    # The pooled stack looks the certificate up by the name the region issues it under.
    assert wildcard["inputs"]["domainName"] == f"*.{catalogue().domain}"
    listeners = _by_type(plan, "aws:lb/listener:Listener")
    tls = [r for r in listeners if r["inputs"].get("protocol") in ("HTTPS", "TLS")]
    assert len(tls) == 4  # HTTPS, IMAPS, POP3S, SMTPS
    assert len({r["inputs"]["certificateArn"] for r in tls}) == 1  # one certificate for all
    assert tls[0]["inputs"]["certificateArn"].endswith(f"/{catalogue().domain}-wildcard")


def test_the_old_mail_name_is_not_covered_by_the_wildcard() -> None:
    """Why pooled instances use `<slug>.mail.<domain>`: `mail.<slug>.<domain>` is two labels
    under the domain, which no wildcard of the region can cover."""
    domain = catalogue().domain
    names = [f"*.{domain}", f"*.mail.{domain}"]
    assert not _covered(f"mail.{SLUG}.{domain}", names)
    assert _covered(f"{SLUG}.mail.{domain}", names) and _covered(f"{SLUG}.{domain}", names)
