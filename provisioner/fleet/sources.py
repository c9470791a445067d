"""Where the fleet comes from: a tenants file kept in git, or the registry.

tenants.yaml (the declarative fleet; adding, removing or changing an entry is a change the
preview shows):

    tenants:
      - slug: acme
        location: de
        plan: standard

A bare list of entries is accepted too. Slugs are checked here (syntax, duplicates); locations
and plans are checked by the revision that plans them (a location may exist at one revision
and not at another).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import UsageError
from provisioner.spec import validate_slug

DEFAULT_TENANTS_FILE = "tenants.yaml"
FIELDS = ("slug", "location", "plan")

Fleet = dict[str, dict[str, str]]  # slug -> {"slug", "location", "plan"}


def parse_tenants(text: str, name: str) -> Fleet:
    """A tenants file's entries by slug; UsageError naming the file and entry otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{name} is not valid YAML: {exc}".replace("\n", " ")) from exc
    if data is None:
        return {}
    entries: Any = data.get("tenants") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"tenants"}:
        extra = ", ".join(sorted(map(str, set(data) - {"tenants"})))
        raise UsageError(f"{name}: unknown top-level key(s) {extra}: only 'tenants' is read")
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise UsageError(f"{name}: 'tenants' must be a list of {{slug, location, plan}} entries")
    fleet: Fleet = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{name}: entry {number}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} is not a mapping with slug, location and plan")
        unknown = set(map(str, entry)) - set(FIELDS)
        missing = [f for f in FIELDS if not entry.get(f)]
        if unknown:
            raise UsageError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
        if missing:
            raise UsageError(f"{where} lacks {', '.join(missing)}")
        try:
            slug = validate_slug(str(entry["slug"]))
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from exc
        if slug in fleet:
            raise UsageError(f"{where}: slug {slug!r} is listed twice")
        fleet[slug] = {"slug": slug, "location": str(entry["location"]).strip().lower(),
                       "plan": str(entry["plan"]).strip().lower()}
    return dict(sorted(fleet.items()))


def read_tenants_file(path: Path) -> Fleet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read tenants file {path}: {exc.strerror or exc}") from exc
    return parse_tenants(text, str(path))


def registry_fleet(url: str | None = None) -> Fleet:
    """Every registered tenant that still has a stack (not deleted), from the registry."""
    from provisioner.registry import Registry

    with Registry.open(url) as registry:
        tenants = registry.list_tenants()
    fleet: Fleet = {}
    for t in tenants:
        if t.desired_state == "deleted":
            continue
        fleet[t.slug] = {"slug": t.slug, "location": t.location, "plan": t.plan}
        if t.instance_id:  # bound to a warm-pool instance: planned under the instance's names
            fleet[t.slug]["instance_id"] = t.instance_id
    return fleet
