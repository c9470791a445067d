"""The security baseline: every rule, grouped by concern, in a stable order."""

from __future__ import annotations

from provisioner.policy.model import Rule
from provisioner.policy.rules import (
    at_rest,
    backup_account,
    backups,
    db_bootstrap,
    exposure,
    grants,
    in_transit,
    least_privilege,
    logs,
    monitoring,
    placement,
    plan_promises,
    transport,
)

RULES: tuple[Rule, ...] = (
    *at_rest.RULES,
    *in_transit.RULES,
    *exposure.RULES,
    *grants.RULES,
    *backups.RULES,
    *logs.RULES,
    *monitoring.RULES,
    *placement.RULES,
    *backup_account.RULES,
    *least_privilege.RULES,
    *db_bootstrap.RULES,
    *transport.RULES,
    *plan_promises.RULES,
)

_ids = [r.id for r in RULES]
assert len(_ids) == len(set(_ids)), "rule ids must be unique"


def rule_by_id(rule_id: str) -> Rule:
    for rule in RULES:
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)
