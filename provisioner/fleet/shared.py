"""One outcome per template pair, shared by every tenant it covers (the 10,000-tenant shortcut).

Tenants whose plans come from verified class templates on both sides (or on one side, for an
added or removed tenant) differ only by their values: the slug and each side's windows (see
`template`). For each pair of classes (base class, head class) the outcome (diff, policy
verdict, danger) is computed for the probe tenant and turned into a template by replacing the
probe's values with placeholders, then checked the way plan templates are: the template
instantiated for one real tenant of the pair (the longest slug whose every value differs from
the probe's) must equal that tenant's outcome computed on its own. Only then do the pair's other
tenants take the template (a text substitution); a pair that does not agree is computed tenant
by tenant, and so is a tenant whose values cannot fill the template (its base and head window
differ where the probe's are equal, so they share one placeholder). The template and its group
key are cached under both program hashes, both classes and the tenants that verified them, so a
warm rerun reads one file per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.fleet.sides import ClassKey
from provisioner.fleet.template import (
    PROBE_SLUGS,
    Values,
    ValuesOf,
    canonical,
    conforms,
    distinct,
    instantiate,
    make_template,
    mark,
    slug_only,
)

PROBE = PROBE_SLUGS[0]
MIN_PAIR = 3  # tenants; a pair of 2 costs 2 outcomes either way


def merged(base: ValuesOf | None, head: ValuesOf | None) -> ValuesOf:
    """slug -> its values on both sides: the slug, and each side's windows under `base.`/`head.`
    (None: the tenant is not in that side's fleet)."""

    def values(slug: str) -> Values:
        out = {"slug": slug}
        for side, of in (("base", base), ("head", head)):
            if of is not None:
                out.update({f"{side}.{k}": v for k, v in of(slug).items() if k != "slug"})
        return out

    return values


@dataclass
class Pair:
    """Tenants going from one base class to one head class (None: not in that fleet)."""

    base: ClassKey | None
    head: ClassKey | None
    slugs: list[str] = field(default_factory=list)
    template: str | None = None  # verified outcome template
    group: str | None = None  # the group key every member shares
    values_of: ValuesOf = slug_only  # a member's values on both sides (`merged`)
    _light: dict[str, Any] | None = field(default=None, repr=False)
    _cost: str | None = field(default=None, repr=False)  # the cost's template, if it varies
    _verifier: list[str | None] = field(default_factory=list, repr=False)

    def probe_values(self) -> Values:
        return self.values_of(PROBE)

    def _pick(self) -> str | None:
        if not self._verifier:
            probe = self.probe_values()
            found = (s for s in sorted(self.slugs, key=lambda s: (-len(s), s))
                     if distinct(probe, self.values_of(s)))
            self._verifier.append(next(found, None))
        return self._verifier[0]

    def verifier(self) -> str:
        """The tenant with the longest slug (ties: the first by name) whose every value differs
        from the probe's."""
        return self._pick() or sorted(self.slugs, key=lambda s: (-len(s), s))[0]

    def settle(self, sides_alike: bool = False) -> list[str]:
        """Keep the members the template can be filled in for; return the others (computed on
        their own). Checked before anything is computed, so the pair is the same every run.
        `sides_alike`: every tenant's base values equal its head values (the same windows code
        and region), so when the probe's values are equal only across sides, all conform."""
        probe = self.probe_values()
        if sides_alike and all(
            {name.split(".", 1)[-1] for name, v in probe.items() if v == value} == {mark}
            for mark, value in ((n.split(".", 1)[-1], v) for n, v in probe.items())
        ):
            return []
        fits = {s: conforms(probe, self.values_of(s)) for s in self.slugs}
        kept = [s for s in self.slugs if fits[s]]
        others = [s for s in self.slugs if not fits[s]]
        self.slugs, self._verifier = kept, []
        return others

    def shareable(self) -> bool:
        return len(self.slugs) >= MIN_PAIR and self._pick() is not None

    def probe_spec(self, side: str) -> dict[str, str] | None:
        cls = self.base if side == "base" else self.head
        if cls is None:
            return None
        return {"slug": PROBE, "location": cls[0], "plan": cls[1]}

    def template_from(self, probe: dict[str, Any], real: dict[str, Any]) -> str | None:
        """The probe's outcome as a template, if it reproduces the verifier's real outcome."""
        verifier = self._pick()
        if verifier is None:
            return None
        template = make_template(probe, self.probe_values())
        if canonical(instantiate(template, self.values_of(verifier))) != canonical(real):
            return None
        return template

    def shows_windows(self) -> bool:
        """Whether the shared outcome names a member's windows (a change to the windows
        themselves): grouping takes only the slug, region and account out, so such members
        group as their own outcomes do, not as one."""
        return self.template is not None and any(
            mark(name) in self.template for name in self.probe_values() if name != "slug")

    def full(self, slug: str) -> dict[str, Any]:
        """A member's whole outcome."""
        assert self.template is not None
        return instantiate(self.template, self.values_of(slug))

    def member(self, slug: str) -> dict[str, Any]:
        """What the report needs of a member that is not shown in full (status, counts, whether
        dangerous, class, cost): `full` is for the first tenant of a group. Parsing every
        member's whole outcome would be most of a warm run at 10,000 tenants; the cost is small
        and is filled in per member only if it names the tenant."""
        if self._light is None:
            probe = self.probe_values()
            proto = instantiate(self.template or "{}", probe)
            self._light = {k: proto[k] for k in ("status", "counts", "danger", "location",
                                                  "plan")}
            cost = make_template(proto.get("cost"), probe)
            self._cost = cost if "@@fleet-" in cost else None
            self._light["cost"] = proto.get("cost")
        light = {**self._light, "slug": slug}
        if self._cost is not None:
            light["cost"] = instantiate(self._cost, self.values_of(slug))
        return light


def pairs_of(
    slugs: list[str],
    base_class: dict[str, ClassKey | None],
    head_class: dict[str, ClassKey | None],
) -> tuple[list[Pair], list[str]]:
    """Slugs grouped into pairs worth sharing, and the rest (computed tenant by tenant).
    `base_class`/`head_class` give a slug's templatable class on that side, None when the slug
    is not in that fleet; a slug missing from either mapping is not templatable."""
    by_key: dict[tuple[ClassKey | None, ClassKey | None], Pair] = {}
    rest = []
    for slug in slugs:
        if slug not in base_class or slug not in head_class:
            rest.append(slug)
            continue
        b, h = base_class[slug], head_class[slug]
        by_key.setdefault((b, h), Pair(b, h)).slugs.append(slug)
    pairs = []
    for pair in by_key.values():
        if len(pair.slugs) >= MIN_PAIR:
            pairs.append(pair)
        else:
            rest += pair.slugs
    return pairs, sorted(rest)
