"""AWS Backup: a vault under the tenant key, a daily rule, a copy inside the jurisdiction, and
a selection covering the database and the volumes."""

from __future__ import annotations

from provisioner.plans import PLANS, VAULT_MAX_RETENTION_DAYS, VAULT_MIN_RETENTION_DAYS
from provisioner.promises import BACKUP_SCHEDULE
from provisioner.regions import catalogue
from tests.stack.conftest import Plan

VAULT = "aws:backup/vault:Vault"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"


def _primary_vault(planned: Plan) -> dict:
    return planned.one(VAULT, "backup-vault")


def _copy_vault(planned: Plan) -> dict:
    copies = planned.of_type(AIR_GAPPED) + [
        v for v in planned.of_type(VAULT) if v["name"].endswith("copy-vault")
    ]
    assert len(copies) == 1
    return copies[0]


def test_vault_is_encrypted_with_the_tenant_key(planned: Plan) -> None:
    vault = _primary_vault(planned)
    assert vault["region"] == planned.spec.region
    assert vault["inputs"]["kmsKeyArn"] == planned.tenant_key_arn


def test_plan_has_a_daily_rule(planned: Plan) -> None:
    rules = planned.one("aws:backup/plan:Plan")["inputs"]["rules"]
    assert [r["schedule"] for r in rules] == [BACKUP_SCHEDULE]
    assert rules[0]["targetVaultName"] == _primary_vault(planned)["inputs"]["name"]


def test_daily_copy_goes_to_the_locations_destination(planned: Plan) -> None:
    copy_vault = _copy_vault(planned)
    destination = planned.spec.location.backup
    assert copy_vault["region"] == destination.region
    expected_type = VAULT if destination.mode == "cross-region" else AIR_GAPPED
    assert copy_vault["type"] == expected_type
    actions = planned.one("aws:backup/plan:Plan")["inputs"]["rules"][0]["copyActions"]
    assert [a["destinationVaultArn"] for a in actions] == [
        planned.arn(copy_vault, planned.backup_account)]


# Where each AWS region is, stated here independently of regions.yaml (AWS's list of Regions,
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html). A region
# missing from this table fails the test rather than passing unchecked.
JURISDICTION_OF_REGION = {
    "us-east-1": "US", "us-east-2": "US", "us-west-1": "US", "us-west-2": "US",
    "eu-west-1": "EU", "eu-central-1": "EU", "eu-west-3": "EU", "eu-north-1": "EU",
    "eu-south-1": "EU", "eu-south-2": "EU", "eu-central-2": "CH", "eu-west-2": "UK",
    "ap-southeast-1": "SG", "ap-southeast-2": "AU", "ap-southeast-4": "AU",
    "ap-northeast-1": "JP", "ap-northeast-3": "JP", "ap-south-1": "IN", "ap-south-2": "IN",
}  # fmt: skip


def test_copies_never_leave_the_jurisdiction(planned: Plan) -> None:
    region = _copy_vault(planned)["region"]
    assert region in JURISDICTION_OF_REGION, f"{region}: add where it is to the table"
    assert JURISDICTION_OF_REGION[region] == planned.spec.location.jurisdiction


def test_every_location_is_in_the_jurisdiction_table() -> None:
    """The table agrees with regions.yaml on the signup regions themselves."""
    for loc in catalogue().locations.values():
        assert JURISDICTION_OF_REGION[loc.region] == loc.jurisdiction, loc.code


def test_copies_are_encrypted_with_the_backup_accounts_key(planned: Plan) -> None:
    copy_vault = _copy_vault(planned)
    key = copy_vault["inputs"].get("kmsKeyArn") or copy_vault["inputs"].get("encryptionKeyArn")
    assert key == planned.arn(planned.backup_key, planned.backup_account)


def test_copy_vault_lives_in_the_backup_account(planned: Plan) -> None:
    actions = planned.one("aws:backup/plan:Plan")["inputs"]["rules"][0]["copyActions"]
    assert actions[0]["destinationVaultArn"].split(":")[4] == planned.backup_account
    policy = planned.one("aws:backup/vaultPolicy:VaultPolicy")["inputs"]["policy"]
    assert '"backup:CopyIntoBackupVault"' in policy
    assert f"arn:aws:iam::{planned.account}:root" in policy


def test_every_vault_is_locked_in_compliance_mode_without_force_destroy(planned: Plan) -> None:
    """Over the same range for every plan: a plan change must not replace a lock (AWS refuses
    once its grace time has passed) or an air-gapped vault (it holds the copies)."""
    same_for_every_plan = (float(VAULT_MIN_RETENTION_DAYS), float(VAULT_MAX_RETENTION_DAYS))
    lock_type = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
    locks = {lock["inputs"]["backupVaultName"]: lock["inputs"]
             for lock in planned.of_type(lock_type)}
    for vault in planned.of_type(VAULT):
        assert "forceDestroy" not in vault["inputs"] or vault["inputs"]["forceDestroy"] is False
        lock = locks[vault["inputs"]["name"]]
        assert (lock["minRetentionDays"], lock["maxRetentionDays"]) == same_for_every_plan
        assert lock["changeableForDays"] >= 3.0  # set: compliance mode, not governance
    for vault in planned.of_type(AIR_GAPPED):
        inputs = vault["inputs"]
        assert (inputs["minRetentionDays"], inputs["maxRetentionDays"]) == same_for_every_plan


def test_recovery_points_keep_the_plans_retention_inside_the_vaults_range(planned: Plan
                                                                          ) -> None:
    """The lifecycle is the plan's; AWS fails a job whose lifecycle lies outside the range."""
    retention = float(planned.spec.plan.backup_retention_days)
    rule = planned.one("aws:backup/plan:Plan")["inputs"]["rules"][0]
    kept = [rule["lifecycle"]["deleteAfter"]] + [
        c["lifecycle"]["deleteAfter"] for c in rule["copyActions"]]
    assert kept == [retention, retention]
    assert VAULT_MIN_RETENTION_DAYS <= retention <= VAULT_MAX_RETENTION_DAYS


def test_every_plans_retention_lies_inside_the_vaults_range() -> None:
    """A plan outside it would need new vaults for its tenants (locks cannot change): change
    the range only with a way to move the tenants' copies. The air-gapped vault accepts no
    minimum under 7 days (CreateLogicallyAirGappedBackupVault)."""
    assert VAULT_MIN_RETENTION_DAYS >= 7
    days = [p.backup_retention_days for p in PLANS.values()]
    assert min(days) == VAULT_MIN_RETENTION_DAYS and max(days) <= VAULT_MAX_RETENTION_DAYS


def test_selection_covers_the_database_and_the_volumes(planned: Plan) -> None:
    selection = planned.one("aws:backup/selection:Selection")["inputs"]["resources"]
    assert planned.arn(planned.one("aws:rds/instance:Instance")) in selection
    assert planned.arn(planned.one("aws:ebs/volume:Volume")) in selection
    # the instance ARN brings its root volume
    assert planned.arn(planned.one("aws:ec2/instance:Instance")) in selection
