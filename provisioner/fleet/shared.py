"""One outcome per template pair, shared by every tenant it covers (the 10,000-tenant shortcut).

Tenants whose plans come from verified class templates on both sides (or on one side, for an
added or removed tenant) differ only by their slug. For each pair of classes (base class, head
class) the outcome (diff, policy verdict, danger) is computed for the probe tenant and turned
into a template by replacing the probe's slug with a placeholder, then checked the way plan
templates are: the template instantiated for one real tenant of the pair (the longest slug)
must equal that tenant's outcome computed on its own. Only then do the pair's other tenants
take the template (a text substitution); a pair that does not agree is computed tenant by
tenant. The template and its group key are cached under both program hashes, both classes and
the tenants that verified them, so a warm rerun reads one file per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.fleet.sides import ClassKey
from provisioner.fleet.template import PLACEHOLDER, PROBE_SLUGS, canonical, instantiate

PROBE = PROBE_SLUGS[0]
MIN_PAIR = 3  # tenants; a pair of 2 costs 2 outcomes either way


@dataclass
class Pair:
    """Tenants going from one base class to one head class (None: not in that fleet)."""

    base: ClassKey | None
    head: ClassKey | None
    slugs: list[str] = field(default_factory=list)
    template: str | None = None  # verified outcome template
    group: str | None = None  # the group key every member shares
    _light: dict[str, Any] | None = field(default=None, repr=False)

    def verifier(self) -> str:
        """The tenant with the longest slug (ties: the first by name)."""
        return sorted(self.slugs, key=lambda s: (-len(s), s))[0]

    def probe_spec(self, side: str) -> dict[str, str] | None:
        cls = self.base if side == "base" else self.head
        if cls is None:
            return None
        return {"slug": PROBE, "location": cls[0], "plan": cls[1]}

    def template_from(self, probe: dict[str, Any], real: dict[str, Any]) -> str | None:
        """The probe's outcome as a template, if it reproduces the verifier's real outcome."""
        template = canonical(probe).replace(PROBE, PLACEHOLDER)
        if canonical(instantiate(template, self.verifier())) != canonical(real):
            return None
        return template

    def full(self, slug: str) -> dict[str, Any]:
        """A member's whole outcome."""
        assert self.template is not None
        return instantiate(self.template, slug)

    def member(self, slug: str) -> dict[str, Any]:
        """What the report needs of a member that is not shown in full (status, counts, whether
        dangerous, class): `full` is for the first tenant of a group. Parsing every member's
        whole outcome would be most of a warm run at 10,000 tenants."""
        if self._light is None:
            proto = instantiate(self.template or "{}", PROBE)
            self._light = {k: proto[k] for k in ("status", "counts", "danger", "location",
                                                  "plan")}
        return {**self._light, "slug": slug}


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
