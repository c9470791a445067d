"""The CrossGuard pack's validation functions, called directly with the SDK's own argument
objects (no Pulumi CLI): the stack's resources are built from a real plan the way the engine
hands them to a policy pack (properties behind CrossGuard's unknown-checking proxy)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from provisioner.paths import PROJECT_ROOT
from provisioner.policy.graph import Graph
from provisioner.policy.rules import RULES
from provisioner.synth import mock_arn
from stacks.policy_pack.adapter import build_policies
from tests.policy.conftest import real_plan

PACK_DIR = PROJECT_ROOT / "stacks" / "policy_pack"
BACKUP_ACCOUNT_NAMES = ("keys-backup-", "backup-account-")


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def stack_resources(plan: dict[str, Any], unknown: dict[tuple[str, str], list[str]] | None = None
                    ) -> list[PolicyResource]:
    """PolicyResources for a plan; `unknown[(name, input)] = [dep names]` makes that input
    unknown (as in a preview) with those resources as its dependencies."""
    unknown = unknown or {}
    provider = PolicyProviderResource("pulumi:providers:aws", {"region": plan["tenant"]["region"]},
                                      "urn:pulumi:tenant-demo::tenant::pulumi:providers:aws::default",
                                      "default")
    by_name: dict[str, PolicyResource] = {}
    out = []
    for res in plan["resources"]:
        props = dict(res["inputs"])
        if res["type"].startswith("aws:"):
            props.pop("region", None)  # as if left to the provider's default region...
            if res["region"] not in (plan["tenant"]["region"], "global"):
                props["region"] = res["region"]  # ...unless set explicitly
        resource = PolicyResource(res["type"], unknown_checking_proxy(props), res["urn"],
                                  res["name"], _options(), provider, None, [], {})
        by_name[res["name"]] = resource
        out.append(resource)
    for (name, path), deps in unknown.items():
        resource = by_name[name]
        raw = copy.deepcopy(next(r["inputs"] for r in plan["resources"] if r["name"] == name))
        raw = {k: v for k, v in raw.items() if k in resource.props["__target"]}
        steps: list[Any] = [int(s) if s.isdigit() else s for s in path.split(".")]
        target = raw
        for step in steps[:-1]:
            target = target[step]
        target[steps[-1]] = UNKNOWN_STRING_VALUE
        resource.props = unknown_checking_proxy(raw)
        resource.property_dependencies[str(steps[0])] = [by_name[d] for d in deps]
    return out


def run_policy(rule_id: str, resources: list[PolicyResource], config: dict | None = None
               ) -> list[tuple[str, str | None]]:
    policy = next(p for p in build_policies() if p.name == rule_id.lower())
    violations: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources, config or {}),
                    lambda message, urn=None: violations.append((message, urn)))
    return violations


def test_one_policy_per_rule_with_the_rules_severity() -> None:
    policies = build_policies()
    assert [p.name for p in policies] == [r.id.lower() for r in RULES]
    for policy, rule in zip(policies, RULES, strict=True):
        want = (EnforcementLevel.MANDATORY if rule.severity.value == "mandatory"
                else EnforcementLevel.ADVISORY)
        assert policy.enforcement_level is want
        assert rule.promise_text in policy.description


@pytest.mark.parametrize("location", ["us", "uk", "de", "sg"])
def test_real_stack_passes_every_policy(location: str) -> None:
    resources = stack_resources(real_plan(location, "standard"))
    for rule in RULES:
        assert run_policy(rule.id, resources) == [], rule.id


def test_a_violation_is_reported_on_the_resource() -> None:
    plan = real_plan("de", "standard")
    listener = next(r for r in plan["resources"] if r["inputs"].get("protocol") == "HTTPS")
    listener["inputs"]["sslPolicy"] = "ELBSecurityPolicy-2016-08"
    found = run_policy("TLS-001", stack_resources(plan))
    assert len(found) == 1
    message, urn = found[0]
    assert urn == listener["urn"]
    assert message.startswith("TLS-001:")


def test_resources_in_the_provider_region_count_as_in_region() -> None:
    plan = real_plan("de", "standard")
    volume = next(r for r in plan["resources"] if r["type"] == "aws:ebs/volume:Volume")
    volume["region"] = "us-east-1"  # stack_resources turns this into an explicit region input
    found = run_policy("RES-001", stack_resources(plan))
    assert [urn for _m, urn in found] == [volume["urn"]]


def test_unknown_reference_with_one_candidate_is_resolved_during_preview() -> None:
    plan = real_plan("de", "standard")
    resources = stack_resources(plan, {("compute-data", "kmsKeyId"): ["keys-key"]})
    assert run_policy("ENC-001", resources) == []
    foreign = stack_resources(plan, {("compute-data", "kmsKeyId"): ["database-params-mysql84"]})
    assert [urn for _m, urn in run_policy("ENC-001", foreign)] == [
        next(r["urn"] for r in plan["resources"] if r["name"] == "compute-data")]


def test_unknown_reference_whose_candidates_agree_passes_during_preview() -> None:
    plan = real_plan("de", "standard")
    # The primary vault's key is unknown and depends on both keys: either is the tenant's own.
    resources = stack_resources(plan, {("backup-vault", "kmsKeyArn"):
                                       ["keys-key", "keys-backup-key"]})
    assert run_policy("ENC-004", resources) == []


def test_unknown_reference_whose_candidates_disagree_is_deferred_not_failed() -> None:
    plan = real_plan("de", "standard")
    # The copy destination depends on both vaults (the engine records dependencies per
    # top-level input): one is the right copy vault, the other the source, so no verdict yet.
    unknown = {("backup-plan", "rules.0.copyActions.0.destinationVaultArn"):
               ["backup-vault", "backup-account-copy-vault"]}
    with pytest.raises(UnknownValueError):
        run_policy("BAK-002", stack_resources(plan, unknown))
    # Both candidates are in the jurisdiction: BAK-003 decides without waiting.
    assert run_policy("BAK-003", stack_resources(plan, unknown)) == []


def test_an_unknown_flag_defers_the_rule() -> None:
    plan = real_plan("de", "standard")
    with pytest.raises(UnknownValueError):
        run_policy("ENC-002", stack_resources(plan, {("database-instance", "storageEncrypted"):
                                                      []}))


def test_tenant_comes_from_tags_or_policy_config() -> None:
    plan = real_plan("de", "standard")
    for res in plan["resources"]:
        res["inputs"].pop("tags", None)
    untagged = stack_resources(plan)
    found = run_policy("ENC-001", untagged)
    assert len(found) == 1 and "cannot tell which tenant" in found[0][0]
    config = {"tenant": {"slug": "demo", "location": "de", "plan": "standard"}}
    assert run_policy("ENC-001", untagged, config) == []


def test_pack_project_file_runs_the_adapter_in_python() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "python"
    venv = (PACK_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (PROJECT_ROOT / ".venv").resolve()
    main = (PACK_DIR / "__main__.py").read_text(encoding="utf-8")
    assert "build_policies()" in main and "PolicyPack(" in main
    assert Path(PACK_DIR / "adapter.py").exists()


def _as_deployed(plan: dict[str, Any], with_dependencies: bool) -> list[PolicyResource]:
    """The plan as CrossGuard sees a deployed stack: references hold opaque cloud ids and
    generated names (`x0000012`), which no naming scheme can decode; only the engine's
    per-input dependencies (optionally dropped here) say which resource they point at."""
    g = Graph.from_plan(plan)
    deps: dict[str, dict[str, list[str]]] = {}
    for res in g.resources:
        for key, value in res.inputs.items():
            leaves = _leaves(value)
            urns = {t.urn for leaf in leaves for t in g.referents(leaf)} - {res.urn}
            if urns:
                deps.setdefault(res.urn, {})[key] = sorted(urns)
    renames: dict[str, str] = {}
    for i, res in enumerate(g.resources):
        renames[f"{res.name}-id"] = f"x{i:07d}"
        renames[f"{res.name}-generated"] = f"phys{i:07d}"
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(renames, key=len,
                                                                            reverse=True)))
                         + r")(?![\w-])")
    deployed = copy.deepcopy(plan)
    for res in deployed["resources"]:
        res["inputs"] = _rename(res["inputs"], pattern, renames)
        # Outputs a deployed resource's properties carry: its ARN and physical name.
        if res["type"].startswith("aws:"):
            # What the backup account's provider creates carries that account's id.
            in_backup_account = res["name"].startswith(BACKUP_ACCOUNT_NAMES)
            account = plan["tenant"]["backup_account_id"] if in_backup_account else "123456789012"
            arn = mock_arn(res["type"], res["name"], res["region"], account, res["inputs"])
            res["inputs"]["arn"] = _rename(arn, pattern, renames)
        if res["type"] == "aws:s3/bucket:Bucket":
            res["inputs"]["bucket"] = renames[f"{res['name']}-generated"]
        elif "name" not in res["inputs"]:
            res["inputs"]["name"] = renames[f"{res['name']}-generated"]
    resources = stack_resources(deployed)
    if with_dependencies:
        by_urn = {r.urn: r for r in resources}
        for r in resources:
            for key, urns in deps.get(r.urn, {}).items():
                r.property_dependencies[key] = [by_urn[u] for u in urns]
    return resources


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return []


def _rename(value: Any, pattern: re.Pattern[str], renames: dict[str, str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda m: renames[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _rename(v, pattern, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, pattern, renames) for v in value]
    return value


@pytest.mark.parametrize("location", ["de", "uk"])
def test_deployed_stack_with_opaque_ids_passes_through_dependencies(location: str) -> None:
    plan = real_plan(location, "enterprise")
    resources = _as_deployed(plan, with_dependencies=True)
    failing = {r.id: run_policy(r.id, resources) for r in RULES}
    assert {k: v for k, v in failing.items() if v} == {}
    # Without the dependencies the opaque ids (security groups, VPC) resolve to nothing and
    # rules fail: the pass above is the dependencies' doing, not a blind rule.
    blind = _as_deployed(plan, with_dependencies=False)
    for rule_id in ("NET-003", "ISO-001", "LOG-002"):
        assert run_policy(rule_id, blind), rule_id
