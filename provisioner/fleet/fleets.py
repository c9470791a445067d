"""The fleet at both sides of a fleet plan: read, checked, and with the catalogues to name places.

From the tenants file (the working tree's copy checked whole, every error at once, before
anything is planned; the base's copy as that revision has it), from the registry (the same
fleet on both sides), or given as specs (the library entry point). Locations given by region
name become their codes, so one tenant written two ways is one spec.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import EnvironmentProblem, UsageError
from provisioner.fleet import sources
from provisioner.fleet.cache import PlanCache, digest, reporting_code_hash
from provisioner.fleet.gitrepo import Repository, Revision
from provisioner.regions import Catalogue, load_catalogue, parse_catalogue


@dataclass
class Fleets:
    """The fleet at each side, where it came from, and the catalogues to read locations by."""

    base: sources.Fleet
    head: sources.Fleet
    source: dict[str, Any]
    notices: list[str] = field(default_factory=list)
    catalogues: list[Catalogue] = field(default_factory=list)  # the working tree's, the base's


def _catalogues(repo: Repository, base: Revision) -> list[Catalogue]:
    """regions.yaml of the working tree (its errors are the user's to fix: exit 2) and of the
    base (if it parses), to name locations and jurisdictions."""
    found = [load_catalogue(repo.root / "regions.yaml")]
    text = repo.show(base, "regions.yaml")
    if text is not None:
        # A broken one is the base's own planner's to report.
        with contextlib.suppress(UsageError, yaml.YAMLError):
            raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            found.append(parse_catalogue(Path("regions.yaml"), raw))
    return found


def _vocabulary(head: Catalogue) -> sources.Vocabulary:
    from provisioner.plans import PLANS

    return sources.Vocabulary(location_code=lambda v: head.resolve(v).code, plans=tuple(PLANS))


def load_fleets(
    repo: Repository, base: Revision, tenants: Path | None, registry: bool,
    registry_url: str | None, cache: PlanCache,
) -> Fleets:
    """The fleet at the base and in the working tree: from the tenants file (`tenants`, else
    tenants.yaml at the root), or the registry (`registry`, or no tenants file)."""
    tenants_path = tenants
    if tenants_path is None and not registry:
        default = repo.root / sources.DEFAULT_TENANTS_FILE
        if default.is_file():
            tenants_path = default
        elif not _registry_exists(registry_url):
            raise UsageError(
                f"no fleet to plan: {sources.DEFAULT_TENANTS_FILE} does not exist at the root of"
                " the repository and no registry was found; give --tenants FILE or --registry"
            )
    catalogues = _catalogues(repo, base)
    if tenants_path is None:
        if not _registry_exists(registry_url):
            # Opening it would create an empty registry and report "no changes to 0 tenants":
            # a green check for a pipeline that simply lacks its database.
            raise EnvironmentProblem(
                "--registry: no registry to read (PROVISIONER_DATABASE_URL is not set and the"
                " data directory has none): point PROVISIONER_DATABASE_URL at the workers'"
                " registry, or give --tenants FILE"
            )
        fleet = sources.registry_fleet(registry_url)
        return Fleets(fleet, fleet, {"kind": "registry"}, [], catalogues)
    path = tenants_path
    if not path.is_absolute():
        # Relative to where the command runs, else to the repository root (CI runs at the root,
        # a person with --repo may not).
        here = Path.cwd() / path
        path = here if here.exists() or not (repo.root / path).exists() else repo.root / path
    try:
        rel = repo.relative(path)
    except ValueError as exc:
        raise UsageError(
            f"tenants file {tenants_path} is outside the repository: keep it in git so the"
            " base revision has its own copy"
        ) from exc
    # The whole working-tree file is checked (every error at once) before anything is planned.
    try:
        head_text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read tenants file {rel}: {exc.strerror or exc}") from exc
    head = _parsed(cache, head_text, rel, catalogues[0])
    notices: list[str] = []
    text = repo.show(base, rel)
    if text is None:
        notices.append(f"{rel} does not exist at {base.ref}: every tenant shows as added")
        base_fleet: sources.Fleet = {}
    elif text == head_text:
        # The same text: checked above, its locations already codes (a second parse of 10,000
        # entries would cost seconds of a cold run).
        return Fleets(dict(head), head, {"kind": "file", "path": rel}, notices, catalogues)
    else:
        try:
            base_fleet = _parsed(cache, text, f"{rel} at {base.ref}", None)
        except sources.TenantsFileError as exc:
            notices.append(f"{exc.errors[0]}; every tenant shows as added")
            base_fleet = {}
    return Fleets(_by_code(base_fleet, catalogues), head, {"kind": "file", "path": rel},
                  notices, catalogues)


def _parsed(cache: PlanCache, text: str, name: str, head: Catalogue | None) -> sources.Fleet:
    """A tenants file parsed and checked (against `head`'s locations and this code's plans when
    given), through the cache: checking 10,000 entries costs seconds, reading the result of an
    earlier check of the same text a few milliseconds. Files with errors are never cached."""
    from provisioner.plans import PLANS

    vocabulary = None
    if head is not None:
        places = sorted((c, loc.region) for c, loc in head.locations.items())
        vocabulary = [places, sorted(PLANS)]
    key = digest("fleet", reporting_code_hash(), name, text, vocabulary)
    found = cache.get("fleets", key)
    if found is not None:
        return dict(found)
    fleet = sources.parse_tenants(text, name, _vocabulary(head) if head is not None else None)
    cache.put("fleets", key, fleet)
    return fleet


def _by_code(fleet: sources.Fleet, catalogues: list[Catalogue]) -> sources.Fleet:
    """Locations given as region names become their codes (`us-east-1` is `us`), so the same
    tenant written two ways is one spec; unknown ones stay as written."""
    out = {}
    for slug, spec in fleet.items():
        for cat in catalogues:
            try:
                spec = {**spec, "location": cat.resolve(spec["location"]).code}
                break
            except UsageError:
                continue
        out[slug] = spec
    return out


def _registry_exists(url: str | None) -> bool:
    from provisioner.paths import existing_database_url

    return existing_database_url(url) is not None


def given_fleets(
    repo: Repository, base: Revision, base_specs: sources.Fleet, head_specs: sources.Fleet
) -> Fleets:
    """Fleets given as specs; the head's checked as a tenants file is (TenantsFileError listing
    every error), the base's taken as that revision would plan them."""
    catalogues = _catalogues(repo, base)
    vocabulary = _vocabulary(catalogues[0])
    errors: list[str] = []
    head: sources.Fleet = {}
    for slug, spec in sorted(head_specs.items()):
        values = {k: str(spec[k]).strip() for k in sources.FIELDS if spec.get(k)}
        problems = sources.check_fields(values, vocabulary)
        errors += [f"head spec {slug}: {message}" for _, message in problems]
        if not problems and values["slug"] != slug:
            errors.append(f"head spec {slug}: its slug is {values['slug']!r}")
        elif not problems:
            head[slug] = {k: values[k] for k in sources.FIELDS}
    if errors:
        raise sources.TenantsFileError("the head specs", errors)
    base_fleet = _by_code({s: {k: str(v[k]).strip().lower() for k in sources.FIELDS}
                           for s, v in base_specs.items()}, catalogues)
    return Fleets(base_fleet, head, {"kind": "given"}, [], catalogues)
