"""Backups an attacker in the tenant's account cannot destroy: locked vaults, no force_destroy,
copies in the location's backup account under its key, and retention of at least a week."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from provisioner.policy.graph import Graph, Resource, as_list, as_number, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.backups import AIR_GAPPED_VAULT, DB_INSTANCE, PLAN, VAULT, VAULTS
from provisioner.policy.rules.tenant_facts import arn_account, backup_account, plan_sizes

LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
KEYS = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:kms/alias:Alias")
MIN_BACKUP_RETENTION_DAYS = 7  # Security Hub RDS.11; the smallest plan keeps 7 days


def _plan_retention(g: Graph) -> int:
    """How long the plan keeps its recovery points (RDS.11's week where the plan is unknown)."""
    plan = plan_sizes(g)
    return max(plan.backup_retention_days if plan else 0, MIN_BACKUP_RETENTION_DAYS)


def _range(g: Graph, vault: Resource) -> list[tuple[Resource, float | None, float | None]]:
    """(what sets it, minimum, maximum) of each retention range a vault enforces: its locks,
    or an air-gapped vault's own."""
    if vault.type == AIR_GAPPED_VAULT:
        return [(vault, as_number(vault.inputs.get("minRetentionDays")),
                 as_number(vault.inputs.get("maxRetentionDays")))]
    return [(lock, as_number(lock.inputs.get("minRetentionDays")),
             as_number(lock.inputs.get("maxRetentionDays")))
            for lock in g.referrers(vault, (LOCK,), "backupVaultName")]


def _range_problems(what: str, low: float | None, high: float | None, days: int) -> Iterator[str]:
    """A vault's range must lie around the plan's retention (the same range for every plan:
    a plan change must never need a new lock or a new air-gapped vault)."""
    if low is None or low < MIN_BACKUP_RETENTION_DAYS:
        yield (f"{what} has minimum retention {low}: need {MIN_BACKUP_RETENTION_DAYS} days at"
               " least, or a job could keep recovery points for less")
    elif low > days:
        yield (f"{what} has minimum retention {low} days, more than the plan's {days}: the"
               " plan's backup and copy jobs would fail")
    if high is None:
        yield (f"{what} has no maximum retention: anyone able to start a job could lock"
               " recovery points in it for up to 100 years")
    elif high < days:
        yield (f"{what} has maximum retention {high} days, less than the plan's {days}: the"
               " plan's backup and copy jobs would fail")


def _lifecycles(g: Graph) -> Iterator[tuple[Resource, str, object, float | None]]:
    """(plan, label, vault value, delete-after) of every job a backup plan starts: each rule's
    backup into its target vault and each of its copies."""
    for plan in g.of_type(PLAN):
        for rule in plan.items("rules"):
            label = f"backup plan {plan.name} rule {rule.get('ruleName', '?')}"
            yield plan, label, rule.get("targetVaultName"), _delete_after(rule)
            for copy in as_list(rule.get("copyActions")):
                if isinstance(copy, Mapping):
                    yield (plan, f"{label} copy", copy.get("destinationVaultArn"),
                           _delete_after(copy))


def _delete_after(action: Mapping[str, object]) -> float | None:
    lifecycle = action.get("lifecycle")
    return as_number(lifecycle.get("deleteAfter")) if isinstance(lifecycle, Mapping) else None


def check_vault_lock(g: Graph) -> Iterator[Violation]:
    days = _plan_retention(g)
    for vault in g.of_type(VAULT):
        locks = g.referrers(vault, (LOCK,), "backupVaultName")
        if not locks:
            yield Violation(vault.urn, f"backup vault {vault.name} has no Vault Lock: add a"
                                       " VaultLockConfiguration in compliance mode")
        for lock in locks:
            if as_number(lock.inputs.get("changeableForDays")) is None:
                yield Violation(lock.urn, f"vault lock of {vault.name} is in governance mode"
                                          " (no changeableForDays): set it for compliance mode")
    for vault in g.of_type(*VAULTS):
        for setter, low, high in _range(g, vault):
            kind = "air-gapped vault" if vault.type == AIR_GAPPED_VAULT else "vault lock of"
            for problem in _range_problems(f"{kind} {vault.name}", low, high, days):
                yield Violation(setter.urn, problem)
    # AWS fails a job whose lifecycle lies outside the vault's range: no backup that day.
    for plan, label, target, after in _lifecycles(g):
        vaults = g.referents(target, VAULTS)
        for vault in vaults:
            for _setter, low, high in _range(g, vault):
                if after is None or (low is not None and after < low) or \
                        (high is not None and after > high):
                    yield Violation(plan.urn, f"{label} keeps recovery points {after} days,"
                                              f" outside the {low}..{high} days {vault.name}"
                                              " accepts: AWS fails the job",
                                    undetermined=len(vaults) > 1)


def check_no_force_destroy(g: Graph) -> Iterator[Violation]:
    for vault in g.of_type(*VAULTS):
        if truthy(vault.inputs.get("forceDestroy")):
            yield Violation(vault.urn, f"backup vault {vault.name} has forceDestroy: deleting the"
                                       " stack would delete every recovery point")


def check_backup_account(g: Graph) -> Iterator[Violation]:
    """The copy lands in a vault whose ARN is the backup account's, under a key of that
    account (a key the tenant's account does not own)."""
    want = backup_account(g)
    for plan in g.of_type(PLAN):
        for rule in plan.items("rules"):
            for copy in as_list(rule.get("copyActions")):
                if not isinstance(copy, Mapping):
                    continue
                dest = copy.get("destinationVaultArn")
                account = arn_account(dest)
                if account != want:
                    yield Violation(plan.urn, f"backup plan {plan.name} copies into account"
                                              f" {account or 'unknown'}, not the location's"
                                              f" backup account {want}")
                    continue
                for vault in g.referents(dest, VAULTS):
                    field = "kmsKeyArn" if vault.type == VAULT else "encryptionKeyArn"
                    key = vault.inputs.get(field)
                    if arn_account(key) != want or not g.referents(key, KEYS):
                        yield Violation(vault.urn, f"copy vault {vault.name} is encrypted with"
                                                   f" {key!r}, not a key of the backup account"
                                                   f" {want} defined in this plan")


def check_retention(g: Graph) -> Iterator[Violation]:
    wanted = _plan_retention(g)
    for db in g.of_type(DB_INSTANCE):
        days = as_number(db.inputs.get("backupRetentionPeriod"))
        if days is None or days < MIN_BACKUP_RETENTION_DAYS:
            yield Violation(db.urn, f"database {db.name} keeps automated backups {days} days:"
                                    f" need {MIN_BACKUP_RETENTION_DAYS} at least")
    for plan in g.of_type(PLAN):
        for rule in plan.items("rules"):
            lifecycles = [rule.get("lifecycle")] + [c.get("lifecycle") for c in
                                                    as_list(rule.get("copyActions"))
                                                    if isinstance(c, Mapping)]
            for lifecycle in lifecycles:
                after = as_number(lifecycle.get("deleteAfter")) \
                    if isinstance(lifecycle, Mapping) else None
                if after is not None and after < wanted:
                    yield Violation(plan.urn, f"backup plan {plan.name} deletes recovery points"
                                              f" after {after} days, less than the plan's"
                                              f" {wanted}")


RULES = (
    Rule("BAK-006", "Every backup vault is locked in compliance mode, its retention range"
                    " (at least 7 days, bounded) holds the plan's retention and every job's"
                    " lifecycle", "backups", Severity.mandatory, check_vault_lock,
         "AWS Backup Vault Lock; a logically air-gapped vault is locked by its retention range."
         " The range is the same for every plan, so a plan change never replaces a lock."),
    Rule("BAK-007", "No backup vault has force_destroy", "backups", Severity.mandatory,
         check_no_force_destroy),
    Rule("BAK-008", "The daily copy lands in the location's backup account, under a key that"
                    " account owns", "backups", Severity.mandatory, check_backup_account,
         "Nothing in the tenant's account can then delete the copies or their key."),
    Rule("BAK-009", "Backups are kept at least 7 days (and as long as the plan promises)",
         "backups", Severity.mandatory, check_retention, "Security Hub RDS.11."),
)
