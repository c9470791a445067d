"""The resource graph a plan describes, and how rules read it.

A plan (`provisioner plan --output json`: `{"tenant": ..., "resources": [...]}`, each resource
`{"urn", "type", "name", "region", "parent", "inputs"}`, sorted) lists resources with the inputs
the provider receives. One resource points at another through a value: an ARN, an id, a name, or (in
a CrossGuard preview, where outputs are not known yet) an `Unknown` marker that lists the urns
the value depends on. `Graph.referents` turns such a value back into the resources of the plan it
can mean, so rules ask questions like "is this key one of the tenant's own keys?" without
knowing how the stack was written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.errors import Undetermined

# Types whose resources have no region: AWS's global services.
GLOBAL_TYPE_PREFIXES = ("aws:iam/", "aws:route53/", "aws:cloudfront/", "aws:organizations/")
# Inputs whose value is the physical name of the resource (what `.name`/`.bucket` outputs give).
# `bucket` names the resource only on buckets: on their satellites (policy, encryption) it is a
# reference to the bucket.
_NAME_INPUTS = ("name", "identifier", "namePrefix")
_BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
_TOKEN_SPLIT = re.compile(r"[:/]")


@dataclass(frozen=True)
class Unknown:
    """A value not known yet (CrossGuard during preview): the urns it depends on."""

    candidates: tuple[str, ...]

    def __str__(self) -> str:
        return "[unknown]"


@dataclass(frozen=True)
class Resource:
    """One resource of a plan."""

    urn: str
    type: str  # Pulumi type token: "aws:rds/instance:Instance"
    name: str  # logical name (the last part of the urn)
    region: str  # effective region, "global" for IAM and Route 53
    parent: str  # parent urn, "" for the stack itself
    inputs: Mapping[str, Any]  # camelCase inputs as the provider receives them
    aliases: tuple[str, ...] = ()  # URNs Pulumi also matches it by (the plan's `aliases`)

    @property
    def is_component(self) -> bool:
        """Components and Pulumi's own resources (stack, providers) hold no data."""
        return not self.type.startswith("aws:")

    def get(self, *path: str | int) -> Any:
        """A nested input, or None when any step is missing or of the wrong shape."""
        value: Any = self.inputs
        for step in path:
            if isinstance(step, int):
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    return None
            elif not isinstance(value, Mapping):
                return None
            value = value[step] if isinstance(step, int) else value.get(step)
        return value

    def items(self, key: str) -> list[Mapping[str, Any]]:
        """A list-of-objects input (rules, actions, parameters), skipping malformed entries."""
        value = self.inputs.get(key)
        if isinstance(value, Unknown):
            raise Undetermined(f"{self.name}.{key} is not known yet", resource=self.name, field=key)
        if isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list):
            return []
        return [v for v in value if isinstance(v, Mapping)]

    def tags(self) -> dict[str, str]:
        value = self.inputs.get("tags")
        if not isinstance(value, Mapping):
            return {}
        return {str(k): str(v) for k, v in value.items()}


def truthy(value: Any) -> bool:
    """A boolean input; launch templates and some APIs send booleans as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    if isinstance(value, Unknown):
        raise Undetermined("a flag is not known yet")
    return False


def as_list(value: Any) -> list[Any]:
    """A list input: None is empty, a lone value is a list of one (hand-edited plans)."""
    if isinstance(value, Unknown):
        raise Undetermined("a list is not known yet")
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_number(value: Any) -> float | None:
    """A numeric input (the mock runtime sends floats, some APIs strings)."""
    if isinstance(value, Unknown):
        raise Undetermined("a number is not known yet")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def region_of_arn(value: Any) -> str | None:
    """The region field of an ARN string, None when it is not an ARN or has no region."""
    if not isinstance(value, str) or not value.startswith("arn:"):
        return None
    parts = value.split(":")
    return parts[3] or None if len(parts) > 3 else None


def _identifiers(res: Resource) -> set[str]:
    """Strings by which other resources may refer to `res`.

    The urn and logical name; the physical name inputs; `arn`/`id` when the plan carries outputs
    (CrossGuard after an update). The offline mocks derive ARNs and ids from the logical name (see
    provisioner/synth.py), so a reference whose ARN resource part or id equals the logical name
    is matched by `_tokens` below.
    """
    # The offline mocks' ids and generated names (provisioner/synth.py's docstring): from the
    # logical name, or from the first alias's name for a resource renamed with an alias.
    identity = res.aliases[0].rsplit("::", 1)[-1] if res.aliases else res.name
    ids = {res.urn, res.name, identity, f"{identity}-id", f"{identity}-generated"}
    own_names = (*_NAME_INPUTS, "bucket", "bucketPrefix") if res.type in _BUCKET_TYPES \
        else _NAME_INPUTS
    for key in (*own_names, "arn", "id"):
        value = res.inputs.get(key)
        if isinstance(value, str) and value:
            ids.add(value)
    return ids


def _tokens(value: str) -> list[str]:
    """Candidate identifiers inside a reference: the whole value and, for an ARN, its resource
    part with and without the resource type (`key/abc` -> `abc`; `log-group:/a/b:*` -> `/a/b`)
    and each of its path segments."""
    out = [value]
    if value.startswith("arn:") and value.count(":") >= 5:
        rest = value.split(":", 5)[5]
        if rest.endswith((":*", "/*")):
            rest = rest[:-2]
        out.append(rest)
        for sep in (":", "/"):
            if sep in rest:
                out.append(rest.split(sep, 1)[1])
        # The first segment is the resource type (`key`, `log-group`) except in ARNs that have
        # none (S3): skipping it keeps `key` from matching a resource so named.
        parts = [p for p in _TOKEN_SPLIT.split(rest) if p and p != "*"]
        out.extend(parts[1:] if len(parts) > 1 else parts)
    return out


@dataclass
class Graph:
    """A plan's tenant and resources, indexed for rules."""

    tenant: Mapping[str, Any]
    resources: list[Resource]
    # value -> urns it is known to come from (CrossGuard's per-input dependencies), consulted
    # only when a value matches no identifier: real ids (`sg-0abc`) say nothing by themselves.
    aliases: Mapping[str, Iterable[str]] = field(default_factory=dict)
    _by_urn: dict[str, Resource] = field(default_factory=dict, repr=False)
    _by_id: dict[str, list[Resource]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for res in self.resources:
            self._by_urn[res.urn] = res
            for ident in _identifiers(res):
                self._by_id.setdefault(ident, []).append(res)

    # --- reading -------------------------------------------------------------------------------
    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def data_resources(self) -> Iterator[Resource]:
        """Every cloud resource (no components, no stack, no providers)."""
        return (r for r in self.resources if not r.is_component)

    def by_urn(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def referents(self, value: Any, types: Iterable[str] | None = None) -> list[Resource]:
        """The resources of the plan `value` can refer to, limited to `types`.

        Several when the value is an `Unknown` (or an alias) whose dependencies include more
        than one resource of those types; rules treat that as "every candidate must pass".
        """
        wanted = set(types) if types is not None else None
        found: dict[str, Resource] = {}
        if isinstance(value, Unknown):
            matches = [self._by_urn[u] for u in value.candidates if u in self._by_urn]
        elif isinstance(value, str) and value:
            matches = []
            for token in _tokens(value):
                matches.extend(self._by_id.get(token, []))
            if not matches:
                matches = [self._by_urn[u] for u in self.aliases.get(value, ())
                           if u in self._by_urn]
        else:
            matches = []
        for res in matches:
            if wanted is None or res.type in wanted:
                found.setdefault(res.urn, res)
        return sorted(found.values(), key=lambda r: r.urn)

    def referrers(self, target: Resource, types: Iterable[str], *path: str) -> list[Resource]:
        """Resources of `types` whose input at `path` refers to `target`."""
        out = []
        for res in self.of_type(*types):
            value = res.get(*path)
            values = value if isinstance(value, list) else [value]
            if any(target in self.referents(v) for v in values):
                out.append(res)
        return out

    # --- the tenant ----------------------------------------------------------------------------
    @property
    def region(self) -> str:
        return str(self.tenant.get("region", ""))

    @property
    def backup_region(self) -> str:
        return str(self.tenant.get("backup_region", ""))

    @property
    def stack_urn(self) -> str:
        """Where stack-wide findings point: the stack resource if the plan has one."""
        for res in self.resources:
            if res.type == "pulumi:pulumi:Stack":
                return res.urn
        return ""

    @classmethod
    def from_plan(cls, plan: Mapping[str, Any]) -> Graph:
        """Build from a plan dict already validated by `provisioner.policy.plan_file`."""
        resources = [
            Resource(
                urn=str(r["urn"]),
                type=str(r["type"]),
                name=str(r.get("name") or str(r["urn"]).rsplit("::", 1)[-1]),
                region=str(r.get("region") or ""),
                parent=str(r.get("parent") or ""),
                inputs=r.get("inputs") or {},
                aliases=tuple(str(a) for a in r.get("aliases") or ()),
            )
            for r in plan["resources"]
        ]
        return cls(tenant=plan["tenant"], resources=resources)
