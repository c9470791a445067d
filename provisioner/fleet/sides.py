"""The plans one side of a fleet plan (one program hash) needs: exact, or from verified templates.

Classes are (location, plan) over the side's whole fleet, so which tenant verifies a class's
template does not depend on what the cache happens to hold. A class with enough tenants gets a
probe plan and its verifier planned (first round); a class whose template does not verify, or
that is too small, gets only the tenants that are actually needed planned (second round). A
verified template is cached under the program hash, the class and its verifier, so a later run
needing the class reads one file instead of two plans and verifying again.
"""

from __future__ import annotations

from typing import Any

from provisioner.fleet.cache import PlanCache, digest, reporting_code_hash
from provisioner.fleet.parameters import TenantValues
from provisioner.fleet.pool import PlanResult, Site
from provisioner.fleet.template import PROBE_SLUGS, ClassPlan, ValuesOf, classes, slug_only

SpecKey = tuple[str, str, str]  # (slug, location, plan)
ClassKey = tuple[str, str]  # (location, plan)
Request = tuple[Site, dict[str, str]]


def spec_key(spec: dict[str, str]) -> SpecKey:
    return (spec["slug"], spec["location"].strip().lower(), spec["plan"].strip().lower())


def class_of(spec: dict[str, str]) -> ClassKey:
    return (spec["location"].strip().lower(), spec["plan"].strip().lower())


def _spec(slug: str, cls: ClassKey) -> dict[str, str]:
    return {"slug": slug, "location": cls[0], "plan": cls[1]}


def _checked(values: TenantValues, specs: list[dict[str, str]], cache: PlanCache) -> TenantValues:
    """`values.checked` for these tenants, its verdict cached: a warm run of 10,000 tenants
    reads it instead of computing every tenant's windows again."""
    if values.windows is None:
        return values
    key = digest("values", reporting_code_hash(), values.source, values.regions, PROBE_SLUGS,
                 sorted({(s["slug"], s["location"]) for s in specs}))
    known = cache.get("values", key)
    if known is not None:
        return values if known["usable"] else TenantValues(None, values.regions)
    checked = values.checked(specs, PROBE_SLUGS)
    cache.put("values", key, {"usable": checked is values})
    return checked


class SidePlans:
    """Plans of one side: `get(spec)` is a tenant's plan result, exact or instantiated."""

    def __init__(self, site: Site, specs: list[dict[str, str]], exact: bool,
                 cache: PlanCache | None = None, values: TenantValues | None = None) -> None:
        self.site = site
        self.exact = exact
        self.cache = cache or PlanCache(None)
        self.values = _checked(values, specs, self.cache) if values is not None else None
        self.classes: dict[ClassKey, ClassPlan] = {
            (c.location, c.plan): c
            for c in classes(specs, self.values.of if self.values else None,
                             self.values.region if self.values else None)
        }
        self.results: dict[SpecKey, PlanResult] = {}
        self.templates: dict[ClassKey, ClassPlan] = {}
        self._pending: list[ClassPlan] = []
        self._needed: set[SpecKey] = set()
        # Tenants bound to pooled instances, and those keeping their pre-backup-account copy,
        # are in no class (template.classes): planned exactly.
        self.bound = {spec_key(s): s for s in specs
                      if s.get("instance_id") or s.get("legacy_backup")}
        self._worth: dict[ClassKey, bool] = {}

    def templatable(self, cls: ClassKey) -> bool:
        """Whether the class is worth a template (it may still fail verification)."""
        return not self.exact and self.classes[cls].worth_templating()

    def template_class(self, spec: dict[str, str]) -> ClassKey | None:
        """The class whose template would give this tenant's plan, or None: planned exactly (a
        tenant bound to a pooled instance is named after the instance, never templated, and one
        keeping its pre-backup-account copy is in no class either: `self.bound`)."""
        if spec.get("instance_id") or spec.get("legacy_backup"):
            return None
        cls = class_of(spec)
        if cls not in self._worth:
            self._worth[cls] = self.templatable(cls)
        return cls if self._worth[cls] else None

    def verifier(self, cls: ClassKey) -> str:
        return self.classes[cls].pick_verifier()

    def values_of(self, cls: ClassKey) -> ValuesOf:
        """slug -> a tenant's values (slug, windows) in class `cls` at this side's revision."""
        return self.classes[cls].values_of if cls in self.classes else slug_only

    def first_round(self, needed: set[SpecKey]) -> list[Request]:
        """Probe and verifier of each templatable class with a needed tenant; needed tenants of
        the other classes."""
        self._needed = needed
        requests: list[Request] = []
        for key, cls in self.classes.items():
            mine = [s for s in cls.slugs if (s, *key) in needed]
            if not mine:
                continue
            if not self.templatable(key):
                requests += [(self.site, _spec(s, key)) for s in mine]
                continue
            known = self.cache.get("templates", self._template_key(cls))
            if known is not None:
                cls.template, cls.verifier = known["template"], cls.pick_verifier()
                self.templates[key] = cls
                continue
            self._pending.append(cls)
            requests += [(self.site, s) for s in cls.probe_specs]
            requests.append((self.site, _spec(cls.pick_verifier(), key)))
        requests += [(self.site, spec) for key, spec in self.bound.items() if key in needed]
        return requests

    def second_round(self, first: dict[SpecKey, PlanResult]) -> list[Request]:
        """Verify the templates; the needed tenants of classes that fail are planned one by one."""
        self.results.update(first)
        requests: list[Request] = []
        for cls in self._pending:
            probes = [first[spec_key(s)] for s in cls.probe_specs]
            verifier = first[(cls.pick_verifier(), cls.location, cls.plan)]
            if cls.verify(probes, verifier):
                self.templates[(cls.location, cls.plan)] = cls
                self.cache.put("templates", self._template_key(cls), {"template": cls.template})
                continue
            self.site.notices.append(
                f"tenants in {cls.location}/{cls.plan} at {self.site.description} do not"
                " plan alike: planned one by one"
            )
            key = (cls.location, cls.plan)
            requests += [
                (self.site, _spec(s, key)) for s in cls.slugs
                if (s, *key) in self._needed and (s, *key) not in self.results
            ]
        self._pending = []
        return requests

    def _template_key(self, cls: ClassPlan) -> str:
        return digest("template", self.site.program_hash, cls.location, cls.plan,
                      cls.pick_verifier(), PROBE_SLUGS)

    def verified(self, cls: ClassKey) -> bool:
        return cls in self.templates

    def get(self, spec: dict[str, str]) -> PlanResult:
        key = spec_key(spec)
        if key in self.results:
            return self.results[key]
        plan: dict[str, Any] = self.templates[(key[1], key[2])].instantiate(key[0])
        return {"plan": plan}

    def templated(self, spec: dict[str, str]) -> bool:
        """Whether `get(spec)` is instantiated rather than planned."""
        return spec_key(spec) not in self.results
