"""Plan once per (location, plan), instantiate per tenant: the cold-run shortcut, verified.

Planning one tenant under the mock runtime costs ~0.2 s, so 10,000 tenants at two revisions is
over an hour of CPU. Tenants sharing a location and a plan have plans that differ only by their
per-tenant values: the slug (names, tags, descriptions, user data) and the weekly windows hashed
from it (`stacks/windows.py`: the database's maintenance window and the patching schedule). The
windows are computed for every tenant by that revision's own `tenant_windows` (see
`parameters`), so they are the values its program puts in the plan, never a copy that could
drift. The planner checks that this holds for each class, at each revision, before relying on
it:

1. plan a probe tenant of the class with a 40-character slug (the longest allowed, letters no
   real plan contains) and replace the probe's values (slug, windows) by placeholders: the
   template;
2. instantiate the template for one real tenant of the class (the one with the longest slug
   among those whose every window differs from the probe's) and compare it with that tenant's
   real plan: they must be identical.

A program that truncated the slug anywhere leaves part of the probe's slug in the template, so
step 2 fails; one that hashed or branched on the slug in a way `tenant_windows` does not
describe would, all but certainly, plan the real tenant differently from the probe; a constant
that happens to equal one of the probe's windows becomes a placeholder, which step 2 fills with
the real tenant's different window. Only when step 2 holds are the class's other tenants
instantiated from the template (a text substitution, ~1 ms). A class that fails, or has too few
tenants to gain, is planned tenant by tenant; `--exact` plans every tenant. Both paths go
through the same on-disk plan cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = "@@fleet-slug@@"  # cannot occur in a slug, survives JSON text unescaped
PROBE_SLUGS = ("zqy-fleet-probe-0123456789abcdefghijklmn",)  # 40 characters
MIN_CLASS = 3  # a class of 2 needs 2 plans either way


Values = dict[str, str]  # a tenant's per-tenant values by name: "slug", then its windows
ValuesOf = Callable[[str], Values]  # slug -> its values


def slug_only(slug: str) -> Values:
    """The values of a revision that hashes nothing from the slug (or whose windows are unknown)."""
    return {"slug": slug}


def mark(name: str) -> str:
    """The placeholder a value named `name` is written as in a template."""
    return f"@@fleet-{name}@@"


def _json_text(value: str) -> str:
    """How a string value appears inside the canonical JSON text (without its quotes)."""
    return json.dumps(value)[1:-1]


def canonical(plan: Any) -> str:
    return json.dumps(plan, sort_keys=True, separators=(",", ":"))


def _shared_names(probe: Values) -> dict[str, str]:
    """name -> the placeholder name it is written as: names whose probe values are equal share
    one placeholder (a window that did not change between base and head, say)."""
    first: dict[str, str] = {}
    return {name: first.setdefault(value, name) for name, value in sorted(probe.items())}


def conforms(probe: Values, values: Values) -> bool:
    """Whether a template made from `probe` can be instantiated for a tenant with `values`:
    names sharing a placeholder (equal for the probe) must be equal for the tenant too."""
    shared = _shared_names(probe)
    return all(values.get(name) == values.get(first) for name, first in shared.items())


def distinct(probe: Values, values: Values) -> bool:
    """Whether every value of a tenant differs from the probe's: only such a tenant can show,
    by comparison, that the probe's values were replaced where they belong and nowhere else."""
    return conforms(probe, values) and all(values.get(k) != v for k, v in probe.items())


def make_template(plan: Any, probe: Values) -> str:
    """The plan's canonical text with every occurrence of each probe value replaced by its
    placeholder (longest values first, so no value is cut out of a longer one)."""
    text = canonical(plan)
    shared = _shared_names(probe)
    for name in sorted(probe, key=lambda n: (-len(probe[n]), n)):
        if shared[name] == name and probe[name]:
            text = text.replace(_json_text(probe[name]), mark(name))
    return text


def normalise(plan: Any, slug: str) -> str:
    """The plan's canonical text with every occurrence of `slug` replaced by the placeholder.
    Probe slugs contain no JSON syntax, so a text replacement is exact."""
    return make_template(plan, {"slug": slug})


def instantiate(template: str, values: Values | str) -> dict[str, Any]:
    """A tenant's plan (or outcome) from a template: each placeholder replaced by the tenant's
    value (a bare string is a slug). Inserted values contain no placeholder, so the order of
    the replacements does not matter."""
    if isinstance(values, str):
        values = {"slug": values}
    text = template
    for name, value in values.items():
        text = text.replace(mark(name), _json_text(value))
    result: dict[str, Any] = json.loads(text)
    return result


@dataclass
class ClassPlan:
    """How the tenants of one (location, plan) class get their plans at one revision."""

    location: str
    plan: str
    slugs: list[str]  # the class's tenants, sorted
    template: str | None = None  # set once verified
    verifier: str | None = None  # the real tenant the template was checked against
    values_of: ValuesOf = slug_only  # a tenant's values at this revision
    region: str = ""  # the class's region at this revision ("": not checked)
    _verifier: list[str | None] = field(default_factory=list, repr=False)

    @property
    def probe_specs(self) -> list[dict[str, str]]:
        return [{"slug": s, "location": self.location, "plan": self.plan} for s in PROBE_SLUGS]

    def _pick(self) -> str | None:
        """The tenant with the longest slug (ties: the first by name), most text to get wrong,
        among those whose every value differs from each probe's."""
        if not self._verifier:
            probes = [self.values_of(p) for p in PROBE_SLUGS]
            found = (s for s in sorted(self.slugs, key=lambda s: (-len(s), s))
                     if all(distinct(p, self.values_of(s)) for p in probes))
            self._verifier.append(next(found, None))
        return self._verifier[0]

    def pick_verifier(self) -> str:
        return self._pick() or sorted(self.slugs, key=lambda s: (-len(s), s))[0]

    def worth_templating(self) -> bool:
        return len(self.slugs) >= MIN_CLASS and self._pick() is not None

    def verify(self, probes: list[dict[str, Any]], real: dict[str, Any]) -> bool:
        """Step 2 above (the probes must also agree with each other); sets `template`."""
        if any("plan" not in p for p in probes) or "plan" not in real:
            return False
        if self.region and any(p["plan"].get("tenant", {}).get("region") != self.region
                               for p in probes):
            return False  # the windows were computed for another region than the plan's
        texts = {make_template(p["plan"], self.values_of(slug))
                 for p, slug in zip(probes, PROBE_SLUGS, strict=True)}
        if len(texts) != 1:
            return False
        (template,) = texts
        verifier = self._pick()
        if verifier is None:
            return False
        if canonical(instantiate(template, self.values_of(verifier))) != canonical(real["plan"]):
            return False
        self.template, self.verifier = template, verifier
        return True

    def instantiate(self, slug: str) -> dict[str, Any]:
        """A member's plan from the verified template."""
        assert self.template is not None
        return instantiate(self.template, self.values_of(slug))


def classes(
    specs: list[dict[str, str]], values: Callable[[str], ValuesOf] | None = None,
    region: Callable[[str], str] | None = None,
) -> list[ClassPlan]:
    """Specs grouped by (location, plan) as written (lower case), sorted. One slug may be in
    two classes: a tenant whose plan changes is planned with each spec. `values` gives the
    values function of a location, `region` its region (both at the revision planned)."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for spec in specs:
        if spec.get("instance_id") or spec.get("legacy_backup"):
            continue  # named after its pooled instance, or keeping its old backup copy: exact

        key = (spec["location"].strip().lower(), spec["plan"].strip().lower())
        grouped.setdefault(key, set()).add(spec["slug"])
    return [
        ClassPlan(loc, plan, sorted(slugs), values_of=values(loc) if values else slug_only,
                  region=region(loc) if region else "")
        for (loc, plan), slugs in sorted(grouped.items())
    ]
