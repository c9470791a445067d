"""Finding, changing and adding resources in a plan dict, for mutation tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provisioner.policy import evaluate
from provisioner.policy.model import Finding
from provisioner.policy.rules import rule_by_id

Plan = dict[str, Any]

KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/keys-key-id"
FOREIGN_KEY_ARN = "arn:aws:kms:eu-central-1:999999999999:key/someone-elses-key"
AWS_MANAGED_KEY = "arn:aws:kms:eu-central-1:123456789012:alias/aws/ebs"
TAGS = {"tenant": "demo", "location": "de", "plan": "standard", "managed-by": "provisioner"}


def find(plan: Plan, type_: str, where: Callable[[dict[str, Any]], bool] | None = None) -> dict:
    """The first resource of `type_` (optionally matching `where` on its inputs)."""
    for res in plan["resources"]:
        if res["type"] == type_ and (where is None or where(res["inputs"])):
            return res
    raise AssertionError(f"no {type_} in the plan")


def inputs(plan: Plan, type_: str, where: Callable[[dict[str, Any]], bool] | None = None) -> dict:
    return find(plan, type_, where)["inputs"]


def remove(plan: Plan, type_: str) -> None:
    """Remove every resource of `type_`."""
    plan["resources"] = [r for r in plan["resources"] if r["type"] != type_]


def add(plan: Plan, type_: str, name: str, inputs_: dict[str, Any],
        region: str | None = None) -> dict[str, Any]:
    region = region or str(inputs_.get("region") or plan["tenant"]["region"])
    slug = plan["tenant"]["slug"]
    res = {
        "urn": f"urn:pulumi:tenant-{slug}::tenant::{type_}::{name}",
        "type": type_,
        "name": name,
        "region": region,
        "parent": "",
        "inputs": inputs_,
    }
    plan["resources"].append(res)
    return res


def findings(plan: Plan, rule_id: str) -> list[Finding]:
    """What one rule finds in `plan`."""
    return list(evaluate(plan, [rule_by_id(rule_id)]).failures)


HTTPS = ("aws:lb/listener:Listener", lambda i: i.get("protocol") == "HTTPS")
HTTP = ("aws:lb/listener:Listener", lambda i: i.get("protocol") == "HTTP")


def sg(name_part: str) -> tuple[str, Callable[[dict[str, Any]], bool]]:
    """A security group of the network by its Name tag (lb, app, db)."""
    return ("aws:ec2/securityGroup:SecurityGroup",
            lambda i: (i.get("tags") or {}).get("Name") == name_part)
