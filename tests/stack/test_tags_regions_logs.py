"""Across the whole stack: tags on every taggable resource, every resource in the tenant's
region (but the backup destination's), log groups encrypted and kept per plan, no secrets."""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
from functools import cache

from provisioner.promises import REQUIRED_TAGS
from tests.stack.conftest import Plan


@cache
def _accepts(token: str, argument: str) -> bool:
    """Whether the pulumi-aws resource class of `token` takes `argument`."""
    _, module, cls_name = token.split(":")
    package = module.split("/")[0]
    package = f"{package}_" if keyword.iskeyword(package) else package  # pulumi_aws.lambda_
    cls = getattr(importlib.import_module(f"pulumi_aws.{package}"), cls_name)
    return argument in inspect.signature(cls._internal_init).parameters


def test_every_taggable_resource_carries_the_tenant_tags(planned: Plan) -> None:
    for res in planned.resources:
        if res["type"].startswith("aws:") and _accepts(res["type"], "tags"):
            tags = res["inputs"].get("tags", {})
            missing = [t for t in REQUIRED_TAGS if t not in tags]
            assert not missing, f"{res['urn']} lacks tags {missing}"
            assert tags["tenant"] == planned.spec.slug
            assert tags["location"] == planned.spec.location.code
            assert tags["plan"] == planned.spec.plan.name


def test_every_resource_is_in_the_tenants_region_but_the_backup_copy(planned: Plan) -> None:
    allowed_elsewhere = {
        "aws:backup/vault:Vault",
        "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:backup/vaultPolicy:VaultPolicy",
        "aws:kms/key:Key",  # the backup account's key
        "aws:kms/alias:Alias",
        "pulumi:providers:aws",  # the backup account's provider
    }
    backup_region = planned.spec.location.backup.region
    for res in planned.resources:
        if res["region"] == "global":
            assert res["type"].startswith(("aws:iam/", "aws:route53/")), res["urn"]
        elif res["region"] != planned.spec.region:
            assert res["region"] == backup_region, res["urn"]
            assert res["type"] in allowed_elsewhere, res["urn"]


def test_regional_resources_state_their_region_explicitly(planned: Plan) -> None:
    for res in planned.resources:
        if res["type"].startswith("aws:") and _accepts(res["type"], "region"):
            assert res["inputs"].get("region") == res["region"], res["urn"]


def test_log_groups_are_encrypted_with_the_tenant_key_and_kept_per_plan(planned: Plan) -> None:
    groups = planned.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) >= 3
    security = ("/vpc-flow-logs", "/ssm-sessions", "/audit")  # kept a year on every plan
    for group in groups:
        assert group["inputs"]["kmsKeyId"] == planned.tenant_key_arn
        expected = planned.spec.plan.log_retention_days
        name = group["inputs"]["name"]
        if name.endswith(security) or name.startswith("aws-waf-logs-"):  # WAF: a security log
            expected = max(expected, 365)
        assert group["inputs"]["retentionInDays"] == expected, group["inputs"]["name"]


def test_plan_holds_no_password_or_secret_values(planned: Plan) -> None:
    text = json.dumps(planned.data).lower()
    assert '"password"' not in text
    assert "begin rsa private key" not in text


def test_plan_lists_resources_sorted_by_urn_with_known_parents(planned: Plan) -> None:
    urns = [r["urn"] for r in planned.resources]
    assert urns == sorted(urns) and len(set(urns)) == len(urns)
    known = set(urns)
    for res in planned.resources:
        assert res["parent"] in known or res["parent"].endswith(
            "::pulumi:pulumi:Stack::" + f"tenant-{planned.spec.stack_name}"
        )
