"""Residency and tagging: where each resource lands, and that it says whose it is."""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

from provisioner.policy.graph import GLOBAL_TYPE_PREFIXES, Graph, Resource
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.promises import REQUIRED_TAGS

# What may live in the backup destination's region: the copy vault (its lock and access policy)
# and the key that encrypts it (the backup account's key, or a replica; with its alias).
# Anything else there is data outside the chosen region.
BACKUP_DESTINATION_TYPES = (
    "aws:backup/vault:Vault",
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
    "aws:backup/vaultPolicy:VaultPolicy",
    "aws:kms/key:Key",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:kms/alias:Alias",
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_SIGNATURE = re.compile(r"def _internal_init\(__self__,(.*?)\):", re.S)


def _effective_region(res: Resource) -> str:
    """The region the resource lands in; an explicit `region` input wins over the plan field."""
    explicit = res.inputs.get("region")
    return explicit if isinstance(explicit, str) and explicit else res.region


def check_residency(g: Graph) -> Iterator[Violation]:
    home, backup = g.region, g.backup_region
    for res in g.data_resources():
        region = _effective_region(res)
        is_global = res.type.startswith(GLOBAL_TYPE_PREFIXES)
        if is_global or region == home:
            continue
        if region == "global" or not region:
            yield Violation(res.urn, f"{res.name} ({res.type}) has no region; only IAM and"
                                     " Route 53 resources are global")
        elif region == backup and res.type in BACKUP_DESTINATION_TYPES:
            continue
        elif region == backup:
            yield Violation(res.urn, f"{res.name} is in the backup region {region}; only the"
                                     " copy vault and its key may be there")
        else:
            yield Violation(res.urn, f"{res.name} is in {region}, outside the tenant's region"
                                     f" {home}")


@functools.cache
def _pulumi_aws_root() -> Path | None:
    spec = importlib.util.find_spec("pulumi_aws")  # locates without importing (~270 MB SDK)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def accepts_tags(type_token: str) -> bool:
    """Whether pulumi-aws's resource class for `type_token` takes `tags`.

    Read from the SDK's source text rather than imported: importing the ec2/rds/... modules costs
    seconds, and `check --plan-file` should not.
    """
    root = _pulumi_aws_root()
    try:
        _pkg, module, cls = type_token.split(":")
    except ValueError:
        return False
    if root is None:
        return False
    path = root / module.split("/")[0] / f"{_CAMEL.sub('_', cls).lower()}.py"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    match = _SIGNATURE.search(text)
    return bool(match and re.search(r"\btags:", match.group(1)))


def check_tags(g: Graph) -> Iterator[Violation]:
    expected = {
        "tenant": g.tenant.get("slug"),
        "location": g.tenant.get("location"),
        "plan": g.tenant.get("plan"),
    }
    for res in g.data_resources():
        if "tags" not in res.inputs and not accepts_tags(res.type):
            continue
        tags = res.tags()
        missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
        if missing:
            yield Violation(res.urn, f"{res.name} lacks tag(s) {', '.join(missing)}")
            continue
        wrong = [f"{k}={tags[k]!r} (want {v!r})" for k, v in expected.items()
                 if v is not None and tags.get(k) != v]
        if wrong:
            yield Violation(res.urn, f"{res.name} is tagged for another tenant: {', '.join(wrong)}")


RULES = (
    Rule("RES-001", "Every resource is in the tenant's region, except the backup copy vault and"
                    " its key in the configured backup region", "residency", Severity.mandatory,
         check_residency),
    Rule("TAG-001", "Every taggable resource carries tenant, location, plan and managed-by tags"
                    " of this tenant", "tagging", Severity.mandatory, check_tags),
)
