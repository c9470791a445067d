"""CrossGuard adapter: the rules of `provisioner.policy`, run on a real stack's resources.

Each rule becomes one stack validation policy (rules compare resources: a volume and its key, a
backup selection and the database), enforced `mandatory` or `advisory` like the rule itself.
The stack's resources are turned into the same plan shape `provisioner plan` writes, so the
rule code is shared, not copied:

- a value not known during preview becomes `Unknown(urns it depends on)`, which rules resolve
  to those resources; a verdict that still depends on it is reported as "cannot run during
  preview" (CrossGuard's own treatment of unknowns) instead of a false failure;
- a known value that names a resource only by its cloud id (`sg-0abc`, `vol-0abc`: the
  engine's properties carry no ids) is resolved through the input's recorded dependencies;
- the tenant (slug, location, plan) comes from policy config `tenant` if set, else from the
  `tenant`/`location`/`plan` tags the stack's resources carry, resolved through regions.yaml.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _is_unknown

from provisioner.errors import ProvisionerError, Undetermined
from provisioner.policy.graph import GLOBAL_TYPE_PREFIXES, Graph, Resource, Unknown
from provisioner.policy.model import Rule, Severity

PACK_NAME = "tenant-security-baseline"


def _raw(value: Any) -> Any:
    """The target of CrossGuard's unknown-checking proxy (or the value itself)."""
    if isinstance(value, Mapping | Sequence) and not isinstance(value, str):
        try:
            return value["__target"]  # type: ignore[call-overload]
        except (KeyError, TypeError, IndexError):
            return value
    return value


def _plain(value: Any, unknown: Unknown) -> Any:
    value = _raw(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, unknown) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v, unknown) for v in value]
    if _is_unknown(value):
        return unknown
    return value


def _string_leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _string_leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _string_leaves(v)]
    return []


def resource_inputs(res: Any) -> dict[str, Any]:
    """A PolicyResource's properties as plain data; unknowns become `Unknown` markers."""
    props = _raw(res.props)
    deps = getattr(res, "property_dependencies", {}) or {}
    out: dict[str, Any] = {}
    for key, value in props.items():
        candidates = tuple(sorted(d.urn for d in deps.get(key, [])))
        out[str(key)] = _plain(value, Unknown(candidates))
    return out


def _region(res_type: str, inputs: Mapping[str, Any], provider: Any, fallback: str) -> str:
    if res_type.startswith(GLOBAL_TYPE_PREFIXES):
        return "global"
    region = inputs.get("region")
    if isinstance(region, str) and region:
        return region
    provider_props = _raw(getattr(provider, "props", None) or {})
    region = provider_props.get("region") if isinstance(provider_props, Mapping) else None
    return region if isinstance(region, str) and region else fallback


def derive_tenant(resources: Sequence[Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant the stack belongs to (plan JSON's `tenant`), or raise ProvisionerError."""
    from provisioner.spec import TenantSpec

    wanted = dict(config.get("tenant") or {})
    if not all(wanted.get(k) for k in ("slug", "location", "plan")):
        votes: dict[str, Counter[str]] = {k: Counter() for k in ("tenant", "location", "plan")}
        for res in resources:
            tags = _raw(_raw(res.props).get("tags"))
            if isinstance(tags, Mapping):
                for key, counter in votes.items():
                    if isinstance(tags.get(key), str):
                        counter[tags[key]] += 1
        for key, tag in (("slug", "tenant"), ("location", "location"), ("plan", "plan")):
            if not wanted.get(key) and votes[tag]:
                wanted[key] = votes[tag].most_common(1)[0][0]
    missing = [k for k in ("slug", "location", "plan") if not wanted.get(k)]
    if missing:
        raise ProvisionerError(
            f"cannot tell which tenant this stack is (no {', '.join(missing)}): tag resources"
            " with tenant/location/plan or set policy config 'tenant'"
        )
    return TenantSpec.create(wanted["slug"], wanted["location"], wanted["plan"]).to_dict()


def to_graph(args: StackValidationArgs) -> Graph:
    """The stack's resources as the rules' graph."""
    config = args.get_config() or {}
    tenant = derive_tenant(args.resources, config)
    resources = []
    aliases: dict[str, set[str]] = {}
    for res in args.resources:
        inputs = resource_inputs(res)
        for key, deps in (getattr(res, "property_dependencies", None) or {}).items():
            for leaf in _string_leaves(inputs.get(key)):
                aliases.setdefault(leaf, set()).update(d.urn for d in deps)
        resources.append(
            Resource(
                urn=res.urn,
                type=res.resource_type,
                name=res.name,
                region=_region(res.resource_type, inputs, res.provider, tenant["region"]),
                parent=res.parent.urn if res.parent is not None else "",
                inputs=inputs,
            )
        )
    return Graph(
        tenant=tenant, resources=resources, aliases={k: sorted(v) for k, v in aliases.items()}
    )


def validation(rule: Rule) -> Any:
    """The CrossGuard stack validation function of one rule."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        try:
            graph = to_graph(args)
        except ProvisionerError as exc:
            report_violation(str(exc), None)
            return
        undetermined: list[str] = []
        try:
            for v in rule.check(graph):
                if v.undetermined:
                    undetermined.append(v.message)
                else:
                    report_violation(f"{rule.id}: {v.message}", v.urn or None)
        except Undetermined as exc:
            undetermined.append(str(exc))
        if undetermined:
            # CrossGuard reports this as "can't run policy during preview" (advisory); the
            # violations already reported stand.
            raise UnknownValueError(UNKNOWN_STRING_VALUE, [undetermined[0]])

    return validate


def build_policies() -> list[Policy]:
    """One stack validation policy per rule, named after the rule id (`enc-001`)."""
    from provisioner.policy.rules import RULES

    return [
        StackValidationPolicy(
            name=rule.id.lower(),
            description=f"{rule.title}. Promise: {rule.promise_text}",
            enforcement_level=(
                EnforcementLevel.MANDATORY
                if rule.severity is Severity.mandatory
                else EnforcementLevel.ADVISORY
            ),
            validate=validation(rule),
        )
        for rule in RULES
    ]
