"""The pure parts behind issue 12: alias URNs as the engine resolves them, matching through
them, major versions, shared outcome templates, grouping across locations, the JSON report."""

from __future__ import annotations

import copy
import json
from typing import Any

from provisioner.fleet.diff import diff_plans
from provisioner.fleet.outcome import group_outcomes
from provisioner.fleet.render import report_json
from provisioner.fleet.shared import PROBE, Pair, pairs_of
from provisioner.fleet.upgrades import major_upgrades, major_version
from provisioner.synth import AliasSpec, create_urn, resolve_aliases

STACK, PROJECT = "tenant-acme", "tenant"
ROOT = create_urn(STACK, PROJECT, "", "pulumi:pulumi:Stack", "tenant-tenant-acme")
TENANT = create_urn(STACK, PROJECT, ROOT, "provisioner:tenant:Tenant", "tenant-acme")
RDS = "aws:rds/instance:Instance"


def test_an_own_alias_defaults_to_the_resources_parent_type_and_stack() -> None:
    db = create_urn(STACK, PROJECT, TENANT, "provisioner:tenant:Database", "db")
    urn = create_urn(STACK, PROJECT, db, RDS, "db-primary")
    (alias,) = resolve_aliases(STACK, PROJECT, urn, db, [AliasSpec(name="db-instance")], [])
    assert alias == ("urn:pulumi:tenant-acme::tenant::provisioner:tenant:Tenant$"
                     "provisioner:tenant:Database$aws:rds/instance:Instance::db-instance")
    # A whole URN is taken as it is; the resource's own URN is never its alias.
    assert resolve_aliases(STACK, PROJECT, urn, db, [AliasSpec(urn="urn:x"),
                                                     AliasSpec(name="db-primary")], []) == ["urn:x"]
    # noParent: the resource used to sit at the top of the stack.
    (top,) = resolve_aliases(STACK, PROJECT, urn, db, [AliasSpec(no_parent=True)], [])
    assert top == "urn:pulumi:tenant-acme::tenant::aws:rds/instance:Instance::db-primary"


def test_a_parents_alias_is_inherited_with_the_name_prefix_rewritten() -> None:
    old_parent = create_urn(STACK, PROJECT, TENANT, "provisioner:tenant:Database", "database")
    parent = create_urn(STACK, PROJECT, TENANT, "provisioner:tenant:Database", "db")
    urn = create_urn(STACK, PROJECT, parent, RDS, "db-instance")
    aliases = resolve_aliases(STACK, PROJECT, urn, parent, [], [old_parent])
    assert aliases == [create_urn(STACK, PROJECT, old_parent, RDS, "database-instance")]
    # With an own alias too: the own one, the resource under the old parent, and the own
    # alias under the old parent ((M+1)*(N+1)-1 = 3).
    both = resolve_aliases(STACK, PROJECT, urn, parent, [AliasSpec(name="db-old")], [old_parent])
    assert [a.rsplit("::", 1)[1] for a in both] == ["db-old", "database-instance", "database-old"]


def _res(urn: str, type_: str = RDS, aliases: list[str] | None = None, **inputs: Any) -> dict:
    r: dict[str, Any] = {"urn": urn, "type": type_, "name": urn.rsplit("::", 1)[1],
                         "region": "us-east-1", "parent": "", "inputs": inputs}
    if aliases:
        r["aliases"] = aliases
    return r


def test_a_renamed_resource_matches_its_old_urn_through_an_alias_only_once() -> None:
    old = {"resources": [_res("urn:a::db", engineVersion="8.0")]}
    renamed = {"resources": [_res("urn:a::primary", aliases=["urn:a::db"], engineVersion="8.0")]}
    assert diff_plans(old, renamed) == {"create": [], "update": [], "replace": [], "delete": []}
    changed = copy.deepcopy(renamed)
    changed["resources"][0]["inputs"]["engineVersion"] = "8.0.40"
    (update,) = diff_plans(old, changed)["update"]
    assert update["previous"] == "urn:a::db" and update["name"] == "primary"
    # An alias naming a URN that still exists in the new plan is not followed (Pulumi keeps
    # that resource), and two resources cannot claim one old resource.
    kept = {"resources": [_res("urn:a::db"), _res("urn:a::copy", aliases=["urn:a::db"])]}
    assert [e["name"] for e in diff_plans(old, kept)["create"]] == ["copy"]
    twice = {"resources": [_res("urn:a::x", aliases=["urn:a::db"]),
                           _res("urn:a::y", aliases=["urn:a::db"])]}
    result = diff_plans(old, twice)
    assert [e["name"] for e in result["create"]] == ["y"] and not result["delete"]


def test_major_versions_and_the_upgrade_danger() -> None:
    assert major_version("mysql", "8.0.35") == "8.0" and major_version("mysql", "8.4") == "8.4"
    assert major_version("postgres", "16.3") == "16" and major_version("postgres", "9.6.1") == "9.6"
    changes = {"update": [{"urn": "u", "type": RDS, "name": "database-instance",
                           "changes": [{"path": "engineVersion", "before": "8.0",
                                        "after": "8.4"}]}]}
    (refused,) = major_upgrades(changes, {"u": {"engine": "mysql"}})
    assert "refuses it without allowMajorVersionUpgrade" in refused
    (allowed,) = major_upgrades(changes, {"u": {"engine": "mysql",
                                                "allowMajorVersionUpgrade": True}})
    assert "will upgrade in place" in allowed and "cannot be undone" in allowed
    minor = copy.deepcopy(changes)
    minor["update"][0]["changes"][0].update(before="8.0.35", after="8.0.40")
    assert major_upgrades(minor, {"u": {"engine": "mysql"}}) == []


def _outcome(slug: str, location: str, region: str, value: str) -> dict[str, Any]:
    return {"slug": slug, "status": "changed", "location": location, "plan": "free",
            "where": {"region": region, "backup_region": ""},
            "changes": {"create": [], "update": [{
                "urn": f"urn:pulumi:tenant-{slug}::tenant::aws:ec2/instance:Instance::server",
                "type": "aws:ec2/instance:Instance", "name": "server", "region": region,
                "changes": [{"path": "iamInstanceProfile", "before": None, "after": value}]}],
                "replace": [], "delete": []},
            "counts": {"create": 0, "update": 1, "replace": 0, "delete": 0},
            "danger": [], "policy": {"failures": [], "warnings": 0}, "error": None,
            "notes": []}


def test_one_change_in_two_regions_and_accounts_is_one_group_showing_placeholders() -> None:
    groups = group_outcomes([
        _outcome("acme", "de", "eu-central-1", "arn:aws:ec2:eu-central-1:123456789012:x/acme"),
        _outcome("beta", "us", "us-east-1", "arn:aws:ec2:us-east-1:210987654321:x/beta"),
        _outcome("gamma", "us", "us-east-1", "arn:aws:ec2:us-east-1:210987654321:x/other"),
    ])
    assert [g["tenants"] for g in groups] == [["acme", "beta"], ["gamma"]]
    assert groups[0]["locations"] == ["de", "us"]
    shown = groups[0]["changes"]["update"][0]["changes"][0]["after"]
    assert shown == "arn:aws:ec2:{region}:{account}:x/{slug}"


def test_a_pair_shares_an_outcome_only_when_it_reproduces_a_real_tenant() -> None:
    base_class = {"acme": ("de", "free"), "beta": ("de", "free"), "gamma-long": ("de", "free"),
                  "solo": ("us", "free")}
    head_class = dict(base_class)
    (pair,), rest = pairs_of(sorted(base_class), base_class, head_class)
    assert pair.slugs == ["acme", "beta", "gamma-long"] and rest == ["solo"]
    assert pair.verifier() == "gamma-long"

    def outcome(slug: str, name: str | None = None) -> dict[str, Any]:
        return {"slug": slug, "status": "changed", "danger": [], "counts": {"update": 1},
                "location": "de", "plan": "free", "changes": {"update": [name or f"t-{slug}"]}}

    assert pair.template_from(outcome(PROBE), outcome("gamma-long")) is not None
    # A rule that truncates names (the probe's 40 characters give it away) does not share.
    odd = Pair(("de", "free"), ("de", "free"), list(pair.slugs))
    assert odd.template_from(outcome(PROBE, f"t-{PROBE[:8]}"), outcome("gamma-long",
                                                                       "t-gamma-lo")) is None
    pair.template = pair.template_from(outcome(PROBE), outcome("gamma-long"))
    assert pair.full("beta")["changes"] == {"update": ["t-beta"]}
    assert pair.member("beta") == {"slug": "beta", "status": "changed", "danger": [],
                                   "counts": {"update": 1}, "location": "de", "plan": "free",
                                   "cost": None}  # the report sums members' costs


def test_the_json_report_is_the_report_with_one_line_per_tenant() -> None:
    report = {"format": 1, "groups": [{"id": "g1"}],
              "tenants": {f"t{i}": {"status": "changed", "group": "g1"} for i in range(3)}}
    text = report_json(report)
    assert json.loads(text) == report
    assert '    "t1": {"group": "g1", "status": "changed"},\n' in text
    assert json.loads(report_json({"tenants": {}})) == {"tenants": {}}


def test_a_verified_class_template_is_read_back_instead_of_planning_probe_and_verifier(
    tmp_path: Any,
) -> None:
    from pathlib import Path

    from provisioner.fleet.cache import PlanCache
    from provisioner.fleet.pool import Site
    from provisioner.fleet.sides import SidePlans
    from provisioner.fleet.template import PROBE_SLUGS

    def plan_of(slug: str) -> dict[str, Any]:
        return {"plan": {"tenant": {"slug": slug}, "resources": [
            _res(f"urn:pulumi:tenant-{slug}::tenant::{RDS}::db", identifier=f"t-{slug}-db")]}}

    specs = [{"slug": s, "location": "de", "plan": "free"} for s in ("acme", "beta", "gamma")]
    needed = {(s["slug"], "de", "free") for s in specs}
    cache = PlanCache(Path(tmp_path))
    site = Site("head", "the working tree", "hash-1", lambda: Path(tmp_path))
    first = SidePlans(site, specs, exact=False, cache=cache)
    requests = first.first_round(needed)
    assert sorted(spec["slug"] for _, spec in requests) == sorted([*PROBE_SLUGS, "gamma"])
    assert first.second_round({(spec["slug"], "de", "free"): plan_of(spec["slug"])
                               for _, spec in requests}) == []
    assert first.get(specs[1]) == plan_of("beta")
    again = SidePlans(site, specs, exact=False, cache=cache)
    assert again.first_round(needed) == []  # the template verified last time
    assert again.verified(("de", "free")) and again.get(specs[1]) == plan_of("beta")
    other_program = Site("head", "the working tree", "hash-2", lambda: Path(tmp_path))
    assert SidePlans(other_program, specs, exact=False, cache=cache).first_round(needed)


def test_a_refused_tenant_leads_the_comment_and_its_reason_is_not_repeated() -> None:
    from provisioner.fleet.outcome import refused_outcome
    from provisioner.fleet.render import exit_code, render_markdown
    from tests.fleet.test_units import _outcome as changed
    from tests.fleet.test_units import _report

    refused = refused_outcome("acme", {"slug": "acme", "location": "us", "plan": "free"},
                              {"slug": "acme", "location": "de", "plan": "free"},
                              "refused: tenant acme moves from us to de")
    report = _report([refused, changed("alpha", "changed", [])])
    text = render_markdown(report)
    assert "### Fleet plan: ⚠️ 1 planned, 1 refused · 1 of 1 change\n" in text
    assert text.index("**Error:** `refused: tenant acme") < text.index("| Tenants |")
    assert text.count("refused: tenant acme moves from us to de") == 2  # lead + its group
    assert [exit_code(report, d) for d in (False, True)] == [1, 5]
