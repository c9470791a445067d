"""What each plan promises of the database and the logs: a supported engine kept patched, a
standby and deletion protection on paid plans, and logs kept as long as the plan says."""

from __future__ import annotations

import re
from collections.abc import Iterator

from provisioner.policy.graph import Graph, as_number, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.tenant_facts import plan_sizes

DB_INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# Engine majors inside RDS standard support (MySQL 8.0's ended on 31 July 2026).
SUPPORTED_ENGINES = {"mysql": ("8.4",)}
_WINDOW = re.compile(r"^(\w{3}):(\d{2}):(\d{2})-(\w{3}):(\d{2}):(\d{2})$")


def _supported(engine: str) -> str:
    """The supported versions in words, e.g. "mysql 8.4" (every engine's when `engine` has none)."""
    engines = [engine] if engine in SUPPORTED_ENGINES else sorted(SUPPORTED_ENGINES)
    return " or ".join(f"{e} {m}" for e in engines for m in SUPPORTED_ENGINES[e])


def check_engine(g: Graph) -> Iterator[Violation]:
    for db in g.of_type(DB_INSTANCE):
        engine = str(db.inputs.get("engine", ""))
        version = str(db.inputs.get("engineVersion", ""))
        majors = SUPPORTED_ENGINES.get(engine)
        if majors is None or not any(version == m or version.startswith(f"{m}.")
                                     for m in majors):
            supported = _supported(engine)
            yield Violation(db.urn, f"database {db.name} runs {engine} {version or '(default)'}:"
                                    f" use a version in RDS standard support ({supported})")
        for group in g.referents(db.inputs.get("parameterGroupName"), (PARAMETER_GROUP,)):
            family = str(group.inputs.get("family", ""))
            families = sorted(f"{engine}{m}" for m in majors or ())
            if families and family not in families:
                yield Violation(group.urn, f"parameter group {group.name} is for family"
                                           f" {family or '(none)'}: use {' or '.join(families)},"
                                           " the family of a version in RDS standard support")


def _minutes(day: str, hour: str, minute: str) -> int | None:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return days.index(day) * 1440 + int(hour) * 60 + int(minute) if day in days else None


def check_patching(g: Graph) -> Iterator[Violation]:
    for db in g.of_type(DB_INSTANCE):
        if not truthy(db.inputs.get("autoMinorVersionUpgrade")):
            yield Violation(db.urn, f"database {db.name} has automatic minor version upgrades"
                                    " off")
        window = db.inputs.get("maintenanceWindow")
        match = _WINDOW.match(str(window or "").lower())
        if not match:
            yield Violation(db.urn, f"database {db.name} has no maintenance window of its own"
                                    f" ({window!r}): AWS would pick one at random")
            continue
        start, end = _minutes(*match.group(1, 2, 3)), _minutes(*match.group(4, 5, 6))
        if start is None or end is None or not 30 <= (end - start) % 10080 <= 24 * 60:
            yield Violation(db.urn, f"database {db.name} maintenance window {window!r} is not"
                                    " 30 minutes to a day")


def check_paid_resilience(g: Graph) -> Iterator[Violation]:
    plan = plan_sizes(g)
    if plan is None or not plan.paid:
        return  # trial and free: single-AZ and deletable by design (README, plans)
    for db in g.of_type(DB_INSTANCE):
        for flag in ("multiAz", "deletionProtection"):
            if not truthy(db.inputs.get(flag)):
                yield Violation(db.urn, f"database {db.name} of paid plan {plan.name} has {flag}"
                                        " off")
    for lb in g.of_type(*LOAD_BALANCERS):
        if not truthy(lb.inputs.get("enableDeletionProtection")):
            yield Violation(lb.urn, f"load balancer {lb.name} of paid plan {plan.name} has"
                                    " deletion protection off")


def check_log_retention(g: Graph) -> Iterator[Violation]:
    plan = plan_sizes(g)
    wanted = plan.log_retention_days if plan else 1
    for group in g.of_type(LOG_GROUP):
        days = as_number(group.inputs.get("retentionInDays"))
        if days is not None and 0 < days < wanted:
            yield Violation(group.urn, f"log group {group.name} keeps logs {days:g} days, less"
                                       f" than the plan's {wanted}")


RULES = (
    Rule("DB-001", "The database engine is a version in RDS standard support (MySQL 8.4)",
         "at-rest", Severity.mandatory, check_engine),
    Rule("DB-002", "Minor versions are upgraded automatically in a maintenance window of the"
                   " tenant's own", "at-rest", Severity.mandatory, check_patching,
         "Security Hub RDS.13; security patches deployed as they become available."),
    Rule("DB-003", "Paid plans: a Multi-AZ database with deletion protection, load balancers"
                   " with deletion protection", "backups", Severity.mandatory,
         check_paid_resilience,
         "Plan-dependent: trial and free run single-AZ without deletion protection (Security Hub"
         " RDS.5/RDS.8/ELB.6 accepted for them)."),
    Rule("LOG-006", "Log groups keep logs at least as long as the plan promises", "logging",
         Severity.mandatory, check_log_retention),
)
