"""A tenant never changes location: a move between revisions is refused, not planned.

A tenant's data lives in the region its customer chose at signup, under that jurisdiction's
law (the data-residency promise). Changing `location` in the tenants file would make Pulumi
replace every resource in another region, i.e. create an empty tenant elsewhere and delete the
one holding the data, which also moves the tenant into another jurisdiction. The fleet plan
reports such a change as a mandatory failure naming both locations and their jurisdictions,
whether the entry was edited or removed and added again with another location in the same
change.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.errors import UsageError
from provisioner.regions import Catalogue, Location

Fleet = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Place:
    """A location as a reviewer reads it: code, region and jurisdiction."""

    code: str
    region: str
    jurisdiction: str

    def describe(self) -> str:
        return f"{self.code} ({self.region}, {self.jurisdiction} jurisdiction)"


def place(value: str, catalogues: list[Catalogue]) -> Place:
    """A location by code or region from the first catalogue that knows it (the working tree's,
    then the base's); unknown everywhere: the value itself, jurisdiction unknown."""
    for cat in catalogues:
        try:
            loc: Location = cat.resolve(value)
        except UsageError:
            continue
        return Place(loc.code, loc.region, loc.jurisdiction)
    return Place(value, "unknown region", "unknown")


def location_moves(base: Fleet, head: Fleet, catalogues: list[Catalogue]) -> dict[str, str]:
    """slug -> why its change is refused, for every tenant whose location differs."""
    refused = {}
    for slug in sorted(set(base) & set(head)):
        before = place(base[slug]["location"], catalogues)
        after = place(head[slug]["location"], catalogues)
        if before.region == after.region and before.code == after.code:
            continue
        if before.jurisdiction != after.jurisdiction:
            leaves = (f": its data would leave the {before.jurisdiction} jurisdiction for the"
                      f" {after.jurisdiction} jurisdiction")
        else:
            leaves = f": its data would move from {before.region} to {after.region}"
        refused[slug] = (
            f"refused: tenant {slug} moves from {before.describe()} to {after.describe()}"
            f"{leaves}. A tenant never changes location; keep location {before.code} (a move is"
            " a new tenant in the new location and an export, never an edit here)"
        )
    return refused
