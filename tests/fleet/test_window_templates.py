"""Class and pair templates with per-tenant windows: filled in per tenant and verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provisioner.fleet.parameters import WINDOWS_FILE, TenantValues, load_windows
from provisioner.fleet.shared import PROBE, Pair, merged
from provisioner.fleet.template import PROBE_SLUGS, ClassPlan, Values, slug_only
from provisioner.paths import PROJECT_ROOT
from provisioner.spec import TenantSpec
from stacks.components.database import maintenance_window
from stacks.components.patching import window_schedule

RDS = "aws:rds/instance:Instance"
SLUGS = ["acme", "beta", "gamma-long", "delta"]


def _window(slug: str) -> str:
    """A stand-in for a hashed window: depends on the whole slug, not its text."""
    return ("mon", "tue", "wed")[sum(map(ord, slug)) % 3] + ":04:00-x"


def _values(slug: str) -> Values:
    return {"slug": slug, "database_window": _window(slug)}


def _plan(slug: str, window: str | None = None, constant: str = "fixed") -> dict[str, Any]:
    inputs = {"identifier": f"t-{slug}-db", "maintenanceWindow": window or _window(slug),
              "description": constant}
    return {"plan": {"tenant": {"slug": slug, "region": "eu-central-1"}, "resources": [
        {"urn": f"urn:pulumi:tenant-{slug}::tenant::{RDS}::db", "type": RDS, "name": "db",
         "inputs": inputs}]}}


def test_a_class_template_fills_in_each_tenants_window() -> None:
    cls = ClassPlan("de", "standard", SLUGS, values_of=_values, region="eu-central-1")
    verifier = cls.pick_verifier()
    assert _window(verifier) != _window(PROBE_SLUGS[0])
    assert cls.verify([_plan(PROBE_SLUGS[0])], _plan(verifier))
    for slug in SLUGS:
        assert cls.instantiate(slug) == _plan(slug)["plan"]
    # Without the window among the values, the probe's window stays in the template and the
    # real tenant shows it: no template, every tenant planned.
    blind = ClassPlan("de", "standard", SLUGS, values_of=slug_only)
    assert not blind.verify([_plan(PROBE_SLUGS[0])], _plan(blind.pick_verifier()))


def test_a_constant_equal_to_the_probes_window_does_not_verify() -> None:
    probe_window = _window(PROBE_SLUGS[0])
    cls = ClassPlan("de", "standard", SLUGS, values_of=_values)
    verifier = cls.pick_verifier()
    # The program writes a fixed text that happens to equal the probe's window: replacing it
    # would give every tenant its own window there; the verifier's real plan shows otherwise.
    assert not cls.verify([_plan(PROBE_SLUGS[0], constant=probe_window)],
                          _plan(verifier, constant=probe_window))


def test_the_verifier_is_a_tenant_whose_every_value_differs_from_the_probes() -> None:
    probe_window = _window(PROBE_SLUGS[0])
    same = [s for s in (f"tenant{i:03d}" for i in range(60)) if _window(s) == probe_window]
    other = [s for s in (f"t{i}" for i in range(60)) if _window(s) != probe_window]
    cls = ClassPlan("de", "standard", [same[0], same[1], other[0]], values_of=_values)
    assert cls.pick_verifier() == other[0]  # not the longest: its window is the probe's
    alike = ClassPlan("de", "standard", same[:3], values_of=_values)
    assert not alike.worth_templating()  # nobody could show a misplaced window
    # The plan's region must be the one the windows were computed for.
    moved = ClassPlan("de", "standard", SLUGS, values_of=_values, region="us-east-1")
    assert not moved.verify([_plan(PROBE_SLUGS[0])], _plan(moved.pick_verifier()))


def test_a_pair_member_whose_base_and_head_windows_differ_is_computed_on_its_own() -> None:
    def head(slug: str) -> Values:  # a head program that moves one tenant's window
        return {"slug": slug, "database_window": "sun:05:00-x" if slug == "beta"
                else _window(slug)}

    pair = Pair(("de", "free"), ("de", "free"), list(SLUGS), values_of=merged(_values, head))
    probe = pair.probe_values()
    assert probe["base.database_window"] == probe["head.database_window"]
    assert pair.settle() == ["beta"] and "beta" not in pair.slugs
    # With both sides known alike (same windows code, same region), nobody is checked.
    alike = Pair(("de", "free"), ("de", "free"), list(SLUGS),
                 values_of=merged(_values, _values))
    assert alike.settle(sides_alike=True) == [] and alike.slugs == SLUGS

    def outcome(slug: str) -> dict[str, Any]:
        return {"slug": slug, "status": "changed", "danger": [], "counts": {"update": 1},
                "location": "de", "plan": "free", "cost": {"delta_usd": 1.0},
                "changes": {"update": [f"t-{slug} {_window(slug)}"]}}

    alike.template = alike.template_from(outcome(PROBE), outcome(alike.verifier()))
    assert alike.template is not None
    assert alike.full("acme") == outcome("acme")
    assert alike.member("acme")["cost"] == {"delta_usd": 1.0}


def test_the_windows_module_loads_on_its_own_and_gives_the_stacks_values() -> None:
    windows = load_windows((PROJECT_ROOT / WINDOWS_FILE).read_text(), WINDOWS_FILE)
    assert windows is not None
    for slug, location in (("acme", "de"), ("beta", "us"), ("gamma", "jp")):
        spec = TenantSpec.create(slug, location, "standard")
        assert dict(windows(spec.region, slug)) == {
            "database_window": maintenance_window(spec),
            "patch_schedule": window_schedule(spec.instance_id),
        }
    assert load_windows("import provisioner_no_such_module\n", "x.py") is None
    assert load_windows(None, "x.py") is None
    assert load_windows("def other(): pass\n", "x.py") is None


def test_values_from_a_windows_function_that_fails_for_some_tenant_are_not_used(
    tmp_path: Path,
) -> None:
    def flaky(region: str, instance_id: str) -> dict[str, str]:
        if instance_id == "beta":
            raise ValueError("no slot")
        return {"database_window": region + instance_id}

    specs = [{"slug": s, "location": "de", "plan": "free"} for s in ("acme", "beta")]
    values = TenantValues(flaky, {"de": "eu-central-1"}, "text").checked(specs, PROBE_SLUGS)
    assert values.windows is None and values.of("de") is slug_only
    good = TenantValues(flaky, {"de": "eu-central-1"}, "text").checked(specs[:1], PROBE_SLUGS)
    assert good.of("de")("acme") == {"slug": "acme", "database_window": "eu-central-1acme"}
