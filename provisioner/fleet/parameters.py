"""A tenant's per-tenant values at one revision: its slug and the windows its program hashes.

Tenants of one (location, plan) class plan alike up to these values (see `template`). The
windows are computed by the revision's own `stacks/windows.py` (`tenant_windows(region,
instance_id)`), the very function its stack calls: the file is read from that revision (the
working tree's copy, or `git show` of the base) and run here on its own. It imports only the
standard library by design, so no worktree or planning process is needed for it. A revision
without the file, or whose file does not load or answer, has no windows: its classes' templates
then hold only the slug, and verification plans a class with hashed windows tenant by tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType

from provisioner.fleet.template import Values, ValuesOf, slug_only

WINDOWS_FILE = "stacks/windows.py"
WINDOWS_FUNCTION = "tenant_windows"
Windows = Callable[[str, str], Mapping[str, str]]  # (region, instance id) -> name -> value


def load_windows(text: str | None, origin: str) -> Windows | None:
    """`tenant_windows` of one revision's windows module (its source text), or None."""
    if text is None:
        return None
    module = ModuleType(f"provisioner_fleet_windows_{abs(hash(origin))}")
    try:
        exec(compile(text, origin, "exec"), module.__dict__)  # that revision's own code
    except Exception:
        return None  # e.g. a later revision's module that imports the program: no windows
    function = getattr(module, WINDOWS_FUNCTION, None)
    return function if callable(function) else None


class TenantValues:
    """The values of tenants at one revision, by location (tenants of a class share it)."""

    def __init__(self, windows: Windows | None, regions: Mapping[str, str],
                 source: str | None = None) -> None:
        self.windows = windows
        self.regions = dict(regions)  # location code -> AWS region at this revision
        self.source = source if windows is not None else None  # the windows module's text

    def same_as(self, other: TenantValues) -> bool:
        """Whether both give every tenant the same values (the same code and regions)."""
        return self.source == other.source and self.regions == other.regions

    def region(self, location: str) -> str:
        return self.regions.get(location, "")

    def of(self, location: str) -> ValuesOf:
        """slug -> values for tenants of `location` (created directly: instance id = slug)."""
        windows, region = self.windows, self.region(location)
        if windows is None or not region:
            return slug_only

        def values(slug: str) -> Values:
            return {**windows(region, slug), "slug": slug}

        return values

    def checked(self, specs: Iterable[Mapping[str, str]], probes: Iterable[str]) -> TenantValues:
        """These values if the windows function answers every tenant (and probe) with named
        strings; else values without windows (a template must never meet a tenant it cannot
        fill in)."""
        if self.windows is None:
            return self
        locations = {str(s["location"]) for s in specs}
        try:
            for spec in specs:
                self._check(self.of(str(spec["location"]))(str(spec["slug"])))
            for location in locations:
                for probe in probes:
                    self._check(self.of(location)(probe))
        except Exception:
            return TenantValues(None, self.regions)
        return self

    @staticmethod
    def _check(values: Values) -> None:
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in values.items()):
            raise ValueError("tenant windows must be non-empty strings by name")
