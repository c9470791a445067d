"""The transition of stacks built before the backup account: their old copy (an in-account copy
vault and a key replica, or an in-account air-gapped vault) stays under its old names, locked,
without force_destroy and retained on delete, while the daily copy goes to the backup account;
leaving the program, the vault is released (kept in AWS) and only the replica is deleted."""

from __future__ import annotations

import dataclasses

import pytest

from provisioner.fleet.diff import data_losses, diff_plans, releases, retirements
from provisioner.fleet.outcome import LEGACY_PURPOSE
from provisioner.plans import VAULT_MAX_RETENTION_DAYS, VAULT_MIN_RETENTION_DAYS
from provisioner.policy import evaluate
from provisioner.regions import LOCATION_CODES
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan
from stacks.tenant_stack import spec_from_config

VAULT = "aws:backup/vault:Vault"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
REPLICA = "aws:kms/replicaKey:ReplicaKey"
PLAN = "aws:backup/plan:Plan"


def _legacy(location: str, plan: str = "standard") -> TenantSpec:
    return dataclasses.replace(TenantSpec.create("acme", location, plan), legacy_backup=True)


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


@pytest.fixture(scope="module")
def de_plans() -> tuple[dict, dict]:
    return synth_plan(_legacy("de")), synth_plan(TenantSpec.create("acme", "de", "standard"))


def test_the_old_copy_keeps_its_names_and_is_locked_retained_and_not_force_destroyed(
    de_plans: tuple[dict, dict],
) -> None:
    legacy = _by_name(de_plans[0])
    vault = legacy["backup-copy-vault"]  # the old URN: Pulumi updates it in place
    assert vault["type"] == VAULT and vault["region"] == "eu-west-1"
    assert vault["inputs"]["name"] == "tenant-acme-copy"
    assert "forceDestroy" not in vault["inputs"] and vault["retainOnDelete"] is True
    assert vault["inputs"]["tags"]["purpose"] == LEGACY_PURPOSE
    assert vault["inputs"]["kmsKeyArn"].endswith("keys-replica-id")
    lock = legacy["backup-copy-vault-lock"]
    assert lock["inputs"]["minRetentionDays"] == VAULT_MIN_RETENTION_DAYS  # as every lock's
    assert lock["inputs"]["maxRetentionDays"] == VAULT_MAX_RETENTION_DAYS
    assert lock["retainOnDelete"] is True
    replica = legacy["keys-replica"]
    assert replica["type"] == REPLICA and replica["region"] == "eu-west-1"
    assert "retainOnDelete" not in replica  # deleted when retired: crypto-shreds what is left
    assert legacy["keys-replica-alias"]["inputs"]["name"] == "alias/tenant-acme"
    # The daily copy goes to the backup account's vault all the same.
    copy = legacy["backup-plan"]["inputs"]["rules"][0]["copyActions"][0]
    assert copy["destinationVaultArn"].split(":")[4] == TenantSpec.create(
        "acme", "de", "standard").location.backup.account_id
    new = _by_name(de_plans[1])
    assert not {"backup-copy-vault", "keys-replica", "keys-replica-alias"} & set(new)


def test_a_single_region_location_keeps_its_in_account_air_gapped_vault() -> None:
    legacy = _by_name(synth_plan(_legacy("uk")))
    vault = legacy["backup-air-gapped-vault"]
    assert vault["type"] == AIR_GAPPED and vault["retainOnDelete"] is True
    assert vault["inputs"]["name"] == "tenant-acme-air-gapped"
    assert "keys-replica" not in legacy  # there was none: the old vault used the tenant key
    # Its range was the plan's retention when it was built; Pulumi keeps it whatever the plan
    # says now (a change would replace the vault holding the old copies).
    assert vault["ignoreChanges"] == ["minRetentionDays", "maxRetentionDays"]
    assert legacy["backup-account-air-gapped-vault"]["type"] == AIR_GAPPED


@pytest.mark.parametrize("location", LOCATION_CODES)
def test_a_stack_keeping_its_old_copy_passes_every_rule(location: str) -> None:
    report = evaluate(synth_plan(_legacy(location)))
    assert report.passed, [(f.rule_id, f.message) for f in report.mandatory_failures]


def test_retiring_releases_the_vault_and_deletes_only_the_replica(
    de_plans: tuple[dict, dict],
) -> None:
    changes = diff_plans(*de_plans)
    deleted = {e["name"]: e for e in changes["delete"]}
    # ...and the MySQL 8.0 parameter group the database left in its maintenance window
    # (stacks/components/database.py), no data holder.
    assert set(deleted) == {"backup-copy-vault", "backup-copy-vault-lock", "keys-replica",
                            "keys-replica-alias", "database-params"}
    assert deleted["backup-copy-vault"]["retained"] is True
    assert "retained" not in deleted["keys-replica"]
    assert changes["replace"] == []
    # The vault is no loss (it stays in AWS); the replica is, unless the registry retired it.
    assert data_losses(changes) == ["deletes key keys-replica"]
    assert data_losses(changes, retiring=frozenset({LEGACY_PURPOSE})) == []
    assert releases(changes) == [
        "releases backup vault backup-copy-vault from the stack: it stays in AWS"
        " (retain_on_delete), its recovery points expire by their lifecycle"]
    assert [line.split(" (")[0] for line in retirements(changes, frozenset({LEGACY_PURPOSE}))
            ] == ["retires key keys-replica"]


def test_the_stack_configuration_carries_the_flag() -> None:
    from provisioner.engine.settings import stack_config

    config = stack_config(_legacy("de"))
    assert config["tenant:legacy-backup"] == "true"
    spec = spec_from_config(lambda key: config.get(f"tenant:{key}"))
    assert spec.legacy_backup is True
    plain = stack_config(TenantSpec.create("acme", "de", "standard"))
    assert "tenant:legacy-backup" not in plain
    assert spec_from_config(lambda key: plain.get(f"tenant:{key}")).legacy_backup is False
