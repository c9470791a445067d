"""Backups: daily, copied to the location's configured destination inside the jurisdiction, and
covering the database and the volumes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import (
    Graph,
    Resource,
    Unknown,
    as_list,
    as_number,
    region_of_arn,
)
from provisioner.policy.model import Rule, Severity, Violation

PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
VAULT = "aws:backup/vault:Vault"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
VAULTS = (VAULT, AIR_GAPPED_VAULT)
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
VOLUME = "aws:ebs/volume:Volume"
PROTECTED = (DB_INSTANCE, DB_CLUSTER, VOLUME)  # what the daily backup must cover
_CRON = re.compile(r"^cron\((.*)\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minutes?|hours?|days?)\)$")
_WILDCARDS = ("*", "?")


def is_daily(schedule: Any) -> bool:
    """True when an AWS Backup schedule runs at least once every day.

    `cron(M H DOM MON DOW YEAR)` with day-of-month, month and day-of-week all wildcards;
    `rate(...)` of at most 24 hours.
    """
    if not isinstance(schedule, str):
        return False
    text = schedule.strip()
    if m := _CRON.match(text):
        fields = m.group(1).split()
        if len(fields) != 6:
            return False
        _minute, _hour, dom, month, dow, _year = fields
        return dom in _WILDCARDS and month == "*" and dow in _WILDCARDS
    if m := _RATE.match(text):
        count, unit = int(m.group(1)), m.group(2)
        minutes = count * {"m": 1, "h": 60, "d": 1440}[unit[0]]
        return 0 < minutes <= 1440
    return False


def _daily_rules(g: Graph) -> list[tuple[Resource, Mapping[str, Any]]]:
    return [(p, r) for p in g.of_type(PLAN) for r in p.items("rules")
            if is_daily(r.get("schedule"))]


def check_daily(g: Graph) -> Iterator[Violation]:
    plans = g.of_type(PLAN)
    if not plans:
        yield Violation(g.stack_urn, "no AWS Backup plan: add a plan with a daily rule")
        return
    if not _daily_rules(g):
        for plan in plans:
            schedules = [r.get("schedule") for r in plan.items("rules")]
            yield Violation(plan.urn, f"backup plan {plan.name} has no daily rule (schedules:"
                                      f" {schedules})")


def _destinations(g: Graph, value: Any) -> list[tuple[Resource | None, str | None]]:
    """What a copy action's destination can be: (vault of the plan or None, its region).

    One per vault of the plan the value can mean (several for a value not known yet, or known
    only through dependencies); else the value read as a foreign ARN, for its region.
    """
    vaults = g.referents(value, VAULTS)
    if vaults:
        return [(v, v.region) for v in vaults]
    return [(None, region_of_arn(value))]


def _verdict(problems: list[str | None]) -> tuple[str | None, bool]:
    """(the problem, undetermined) over the candidates of one value."""
    bad = [p for p in problems if p]
    if not bad:
        return None, False
    return bad[0], len(bad) < len(problems)


def check_copy_destination(g: Graph) -> Iterator[Violation]:
    want_region = g.backup_region
    air_gapped = g.tenant.get("backup_mode") == "air-gapped"
    for plan, rule in _daily_rules(g):
        label = f"backup plan {plan.name} rule {rule.get('ruleName', '?')}"
        target = rule.get("targetVaultName")
        sources = g.referents(target, VAULTS)
        if isinstance(target, Unknown) and len(sources) > 1:
            sources = []  # not known which one: the other checks still apply
        copies = [c for c in as_list(rule.get("copyActions")) if isinstance(c, Mapping)]
        if not copies:
            yield Violation(plan.urn, f"{label} copies nowhere: add a copy action to the"
                                      f" location's backup destination ({want_region})")
            continue
        for copy in copies:
            problems: list[str | None] = []
            for vault, region in _destinations(g, copy.get("destinationVaultArn")):
                if vault is not None and vault in sources:
                    problems.append(f"{label} copies into its own source vault")
                elif region != want_region:
                    problems.append(f"{label} copies to {region or 'an unknown region'}, not"
                                    f" the location's backup region {want_region}")
                elif air_gapped and (vault is None or vault.type != AIR_GAPPED_VAULT):
                    problems.append(f"{label} must copy to a logically air-gapped vault (the"
                                    " location's backup mode)")
                else:
                    problems.append(None)
            problem, undetermined = _verdict(problems)
            if problem:
                yield Violation(plan.urn, problem, undetermined=undetermined)


def jurisdiction_of(region: str) -> str | None:
    """The legal jurisdiction of an AWS region, from regions.yaml (signup and backup regions)."""
    from provisioner.regions import catalogue

    for loc in catalogue().locations.values():
        if region == loc.region:
            return loc.jurisdiction
    for loc in catalogue().locations.values():
        if region == loc.backup.region:
            return loc.jurisdiction
    return None


def check_jurisdiction(g: Graph) -> Iterator[Violation]:
    home = g.tenant.get("jurisdiction")
    for plan in g.of_type(PLAN):
        for rule in plan.items("rules"):
            for copy in as_list(rule.get("copyActions")):
                if not isinstance(copy, Mapping):
                    continue
                problems: list[str | None] = []
                for _vault, region in _destinations(g, copy.get("destinationVaultArn")):
                    where = jurisdiction_of(region) if region else None
                    problems.append(None if where == home else
                                    f"backup plan {plan.name} copies to"
                                    f" {region or 'an unknown region'} (jurisdiction"
                                    f" {where or 'unknown'}), outside {home}")
                problem, undetermined = _verdict(problems)
                if problem:
                    yield Violation(plan.urn, problem, undetermined=undetermined)


def _covered(g: Graph, selection: Resource) -> set[str]:
    covered: set[str] = set()
    for value in as_list(selection.inputs.get("resources")):
        if value == "*":
            covered.update(r.urn for r in g.of_type(*PROTECTED))
        covered.update(r.urn for r in g.referents(value, PROTECTED))
    for cond in selection.items("selectionTags"):
        if str(cond.get("type", "")).upper() != "STRINGEQUALS":
            continue
        for res in g.of_type(*PROTECTED):
            if res.tags().get(str(cond.get("key"))) == cond.get("value"):
                covered.add(res.urn)
    return covered


def check_selection(g: Graph) -> Iterator[Violation]:
    daily_plans = {p.urn for p, _rule in _daily_rules(g)}
    covered: set[str] = set()
    for sel in g.of_type(SELECTION):
        if any(p.urn in daily_plans for p in g.referents(sel.inputs.get("planId"), (PLAN,))):
            covered |= _covered(g, sel)
    for res in g.of_type(*PROTECTED):
        if res.urn not in covered:
            yield Violation(res.urn, f"{res.name} is not in any selection of a daily backup plan")


def check_automated_backups(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER):
        days = as_number(res.inputs.get("backupRetentionPeriod"))
        if days is None or days < 1:
            yield Violation(res.urn, f"database {res.name} has automated backups off"
                                     " (backupRetentionPeriod < 1)")


RULES = (
    Rule("BAK-001", "A backup plan runs at least daily", "backups", Severity.mandatory,
         check_daily),
    Rule("BAK-002", "Every daily backup is copied to the location's configured backup"
                    " destination (another region, or an air-gapped vault)", "backups",
         Severity.mandatory, check_copy_destination),
    Rule("BAK-003", "No backup copy leaves the tenant's jurisdiction", "backups",
         Severity.mandatory, check_jurisdiction),
    Rule("BAK-004", "The daily backup selection covers the database and every EBS volume",
         "backups", Severity.mandatory, check_selection),
    Rule("BAK-005", "Database automated backups (point-in-time recovery) are on", "backups",
         Severity.mandatory, check_automated_backups),
)
