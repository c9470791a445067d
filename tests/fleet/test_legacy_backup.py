"""The fleet side of the backup-account transition: the registry's flag reaches the planner, a
tenant keeping its old copy is planned on its own, and the diff tells a retained or retired old
copy from a deletion nobody asked for."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from provisioner.fleet.batch import plan_specs
from provisioner.fleet.cache import spec_key
from provisioner.fleet.outcome import tenant_outcome
from provisioner.fleet.pool import Site
from provisioner.fleet.sides import SidePlans
from provisioner.fleet.sources import registry_fleet
from provisioner.fleet.template import classes
from provisioner.registry import Registry
from provisioner.registry.models import tenants
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan

OLD = {"slug": "acme", "location": "de", "plan": "standard", "legacy_backup": "true"}
NEW = {"slug": "acme", "location": "de", "plan": "standard"}


@pytest.fixture(scope="module")
def plans() -> tuple[dict, dict]:
    spec = TenantSpec.create("acme", "de", "standard")
    return synth_plan(dataclasses.replace(spec, legacy_backup=True)), synth_plan(spec)


def test_the_registry_flag_reaches_the_fleet_and_its_tenant_is_planned_on_its_own(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Registry.open(url) as reg:
        for slug in ("acme", "globex"):
            reg.create_tenant(TenantSpec.create(slug, "de", "standard"), actor="test")
        with reg.write() as conn:
            conn.execute(sa.update(tenants).where(tenants.c.slug == "acme")
                         .values(legacy_backup=True))
    fleet = registry_fleet(url)
    assert fleet["acme"] == OLD and fleet["globex"] == {**NEW, "slug": "globex"}
    assert spec_key(OLD) != spec_key(NEW)  # cached apart
    assert [c.slugs for c in classes([OLD, {**NEW, "slug": "globex"}])] == [["globex"]]


def test_a_flagged_tenant_is_never_templated_even_alone_in_its_class() -> None:
    """`fleet plan --registry` over a location whose only tenants keep their old copy crashed
    (KeyError on the class nobody is in); one sharing a class with other tenants was templated
    from a plan without its old copy."""
    from provisioner.fleet.pool import Site
    from provisioner.fleet.sides import SidePlans

    alone = {**OLD, "slug": "delta", "location": "uk", "plan": "trial"}
    side = SidePlans(Site("head", "the working tree", "h", Path.cwd), [alone, OLD, NEW],
                     exact=False)
    assert side.template_class(alone) is None
    assert side.template_class(OLD) is None


def test_the_planner_builds_the_old_copy_for_a_flagged_spec() -> None:
    out = io.StringIO()
    plan_specs([OLD, NEW], out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    names = [{r["name"] for r in line["plan"]["resources"]} for line in lines]
    assert "backup-copy-vault" in names[0] and "backup-copy-vault" not in names[1]


def test_the_diff_tells_retained_and_retired_copies_from_a_loss(plans: tuple[dict, dict]
                                                                ) -> None:
    legacy, plain = plans
    retired = tenant_outcome("acme", OLD, NEW, {"plan": legacy}, {"plan": plain})
    assert retired["danger"] == []
    assert [n.split(" (")[0].split(" from ")[0] for n in retired["notes"]] == [
        "releases backup vault backup-copy-vault", "retires key keys-replica"]
    # The same removal while the registry still keeps the copy: a program dropping it.
    dropped = tenant_outcome("acme", OLD, OLD, {"plan": legacy}, {"plan": plain})
    assert dropped["danger"] == ["deletes key keys-replica"]
    assert any(n.startswith("releases backup vault backup-copy-vault") for n in dropped["notes"])


def test_a_flagged_tenant_alone_in_its_location_and_plan_is_planned_exactly() -> None:
    """`fleet plan --registry` right after migration 0009 flags every tenant: a class holding
    only flagged tenants has no class plan, and asking for its template failed (KeyError)."""
    site = Site("head", "the working tree", "hash", lambda: Path("."))
    side = SidePlans(site, [OLD, {**NEW, "slug": "globex", "location": "us"}], exact=False)
    assert side.template_class(OLD) is None
