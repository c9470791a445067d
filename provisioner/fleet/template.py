"""Plan once per (location, plan), instantiate per tenant: the cold-run shortcut, verified.

Planning one tenant under the mock runtime costs ~0.2 s, so 1,000 tenants at two revisions is
~400 s of CPU. The tenant program uses the slug only as text (names, tags, descriptions, user
data), so tenants sharing a location and a plan have plans that differ only by their slug. The
planner checks that this holds for each class, at each revision, before relying on it:

1. plan a probe tenant of the class with a 40-character slug (the longest allowed, letters no
   real plan contains) and replace the probe's slug by a placeholder: the template;
2. instantiate the template for one real tenant of the class (the one with the longest slug)
   and compare it with that tenant's real plan: they must be identical.

A program that truncated the slug anywhere leaves part of the probe's slug in the template, so
step 2 fails; one that hashed or branched on the slug would, all but certainly, plan the real
tenant differently from the probe. Only when step 2 holds are the class's other tenants
instantiated from the template (a text substitution, ~1 ms). A class that fails, or has too few
tenants to gain, is planned tenant by tenant; `--exact` plans every tenant. Both paths go
through the same on-disk plan cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = "@@fleet-slug@@"  # cannot occur in a slug, survives JSON text unescaped
PROBE_SLUGS = ("zqy-fleet-probe-0123456789abcdefghijklmn",)  # 40 characters
MIN_CLASS = 3  # a class of 2 needs 2 plans either way


def canonical(plan: Any) -> str:
    return json.dumps(plan, sort_keys=True, separators=(",", ":"))


def normalise(plan: Any, slug: str) -> str:
    """The plan's canonical text with every occurrence of `slug` replaced by the placeholder.
    Probe slugs contain no JSON syntax, so a text replacement is exact."""
    return canonical(plan).replace(slug, PLACEHOLDER)


def instantiate(template: str, slug: str) -> dict[str, Any]:
    """A tenant's plan from a class template (slug characters need no JSON escaping)."""
    result: dict[str, Any] = json.loads(template.replace(PLACEHOLDER, slug))
    return result


@dataclass
class ClassPlan:
    """How the tenants of one (location, plan) class get their plans at one revision."""

    location: str
    plan: str
    slugs: list[str]  # the class's tenants, sorted
    template: str | None = None  # set once verified
    verifier: str | None = None  # the real tenant the template was checked against

    @property
    def probe_specs(self) -> list[dict[str, str]]:
        return [{"slug": s, "location": self.location, "plan": self.plan} for s in PROBE_SLUGS]

    def pick_verifier(self) -> str:
        """The tenant with the longest slug (ties: the first by name): most text to get wrong."""
        return sorted(self.slugs, key=lambda s: (-len(s), s))[0]

    def worth_templating(self) -> bool:
        return len(self.slugs) >= MIN_CLASS

    def verify(self, probes: list[dict[str, Any]], real: dict[str, Any]) -> bool:
        """Step 2 above (the probes must also agree with each other); sets `template`."""
        if any("plan" not in p for p in probes) or "plan" not in real:
            return False
        texts = {normalise(p["plan"], slug) for p, slug in zip(probes, PROBE_SLUGS, strict=True)}
        if len(texts) != 1:
            return False
        (template,) = texts
        verifier = self.pick_verifier()
        if canonical(instantiate(template, verifier)) != canonical(real["plan"]):
            return False
        self.template, self.verifier = template, verifier
        return True


def classes(specs: list[dict[str, str]]) -> list[ClassPlan]:
    """Specs grouped by (location, plan) as written (lower case), sorted. One slug may be in
    two classes: a tenant whose plan changes is planned with each spec."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for spec in specs:
        if spec.get("instance_id") or spec.get("legacy_backup"):
            continue  # named after its pooled instance, or keeping its old backup copy: exact

        key = (spec["location"].strip().lower(), spec["plan"].strip().lower())
        grouped.setdefault(key, set()).add(spec["slug"])
    return [ClassPlan(loc, plan, sorted(slugs)) for (loc, plan), slugs in sorted(grouped.items())]
