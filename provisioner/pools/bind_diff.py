"""The offline diff between a pooled instance and the same instance bound to a customer.

Binding must be cheap and safe: it may create the customer's DNS record and update tags and the
app's configuration (an SSM parameter), nothing else. Anything more (a replacement, a deletion,
any other changed input) means a physical name or a setting was derived from the slug instead of
the instance id, and a customer's signup would rebuild or lose part of the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner.fleet.diff import ACTIONS, counts, diff_plans
from provisioner.plans import get_plan
from provisioner.regions import Catalogue, catalogue
from provisioner.spec import TenantSpec

SAMPLE_INSTANCE_ID = "pool-sample0001"
SAMPLE_SLUG = "bound-customer"
SAMPLE_ADMIN_EMAIL = "admin@bound-customer.example"  # the bind's admin invitation
# What binding may create, and which inputs it may change (per type, besides tags).
BIND_CREATES = frozenset({"aws:route53/record:Record"})
BIND_UPDATES: dict[str, tuple[str, ...]] = {"aws:ssm/parameter:Parameter": ("insecureValue",)}


def _is_tag_path(path: str) -> bool:
    """`tags.x`, `rootBlockDevice.tags.x`, `rules[0].recoveryPointTags.x`: labels, not names."""
    return any(part in ("tags", "tagsAll") or part.endswith("Tags") for part in path.split("."))


@dataclass(frozen=True)
class BindDiff:
    location: str
    plan: str
    instance_id: str
    slug: str
    changes: dict[str, list[Any]]
    violations: tuple[str, ...]  # empty: binding is tags, DNS and app configuration only

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "plan": self.plan,
            "instance_id": self.instance_id,
            "slug": self.slug,
            "counts": counts(self.changes),
            "changes": self.changes,
            "violations": list(self.violations),
            "ok": not self.violations,
        }


def bind_violations(changes: dict[str, list[Any]]) -> list[str]:
    """Everything in `changes` a bind must not do, one line each."""
    found = []
    for entry in changes.get("replace", []):
        found.append(f"replaces {entry['name']} ({', '.join(entry['reasons'])} changed)")
    for entry in changes.get("delete", []):
        found.append(f"deletes {entry['name']} ({entry['type']})")
    for entry in changes.get("create", []):
        if entry["type"] not in BIND_CREATES:
            found.append(f"creates {entry['name']} ({entry['type']})")
    for entry in changes.get("update", []):
        allowed = BIND_UPDATES.get(entry["type"], ())
        for change in entry["changes"]:
            path = str(change["path"])
            if not _is_tag_path(path) and path not in allowed:
                found.append(f"changes {entry['name']}.{path} ({entry['type']})")
    return found


def bind_diff(
    location: str,
    plan: str = "trial",
    *,
    slug: str = SAMPLE_SLUG,
    instance_id: str = SAMPLE_INSTANCE_ID,
    regions: Catalogue | None = None,
) -> BindDiff:
    """Plan a pooled instance of `location`/`plan` before and after binding it to `slug`."""
    from provisioner.synth import synth_plan  # imports pulumi: only when planning

    cat = regions or catalogue()
    pooled = TenantSpec.for_pool(instance_id, cat.resolve(location), get_plan(plan))
    bound = pooled.bind(slug, SAMPLE_ADMIN_EMAIL)
    changes = diff_plans(synth_plan(pooled, cat), synth_plan(bound, cat))
    changes = {action: changes[action] for action in ACTIONS}
    return BindDiff(
        location=pooled.location.code,
        plan=pooled.plan.name,
        instance_id=instance_id,
        slug=slug,
        changes=changes,
        violations=tuple(bind_violations(changes)),
    )
