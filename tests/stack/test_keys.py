"""The tenant's keys: its own in its account, and a per-tenant key the backup account owns."""

from __future__ import annotations

import json
from typing import Any

from provisioner.regions import catalogue
from tests.stack.conftest import Plan


def _statements(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(key["inputs"]["policy"])["Statement"]}


def test_tenant_key_is_customer_managed_aes_in_its_region(planned: Plan) -> None:
    key = planned.tenant_key
    assert key["region"] == planned.spec.region
    assert key["inputs"]["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"  # AES-256-GCM
    assert key["inputs"]["keyUsage"] == "ENCRYPT_DECRYPT"


def test_key_rotation_is_on_for_both_keys(planned: Plan) -> None:
    assert planned.tenant_key["inputs"]["enableKeyRotation"] is True
    assert planned.backup_key["inputs"]["enableKeyRotation"] is True


def test_no_replica_of_the_tenant_key_exists(planned: Plan) -> None:
    """Copies are under the backup account's key now; a replica would be one more place the
    tenant account could destroy."""
    assert planned.of_type("aws:kms/replicaKey:ReplicaKey") == []


def test_backup_key_lives_in_the_backup_account_and_region(planned: Plan) -> None:
    key = planned.backup_key
    assert key["region"] == planned.spec.location.backup.region
    provider = planned.one("pulumi:providers:aws")
    assert key["urn"] and provider["inputs"]["region"] == planned.spec.location.backup.region
    roles = json.loads(provider["inputs"]["assumeRoles"])
    assert roles[0]["role_arn"] == catalogue().platform.backup_role_arn(planned.backup_account)
    assert json.loads(provider["inputs"]["allowedAccountIds"]) == [planned.backup_account]


def test_both_keys_are_deleted_within_a_week_of_a_deletion_order(planned: Plan) -> None:
    assert planned.tenant_key["inputs"]["deletionWindowInDays"] == 7.0
    assert planned.backup_key["inputs"]["deletionWindowInDays"] == 7.0


def test_key_has_an_alias_named_after_the_tenant(planned: Plan) -> None:
    aliases = planned.of_type("aws:kms/alias:Alias")
    primary = [a for a in aliases if a["name"] == "keys-alias"]
    assert [a["inputs"]["name"] for a in primary] == [f"alias/tenant-{planned.spec.slug}"]
    assert primary[0]["inputs"]["targetKeyId"] == planned.id(planned.tenant_key)


def test_no_one_gets_kms_star_and_key_admin_is_the_platform_role(planned: Plan) -> None:
    for key in (planned.tenant_key, planned.backup_key):
        for statement in _statements(key).values():
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            if statement["Effect"] == "Allow":
                assert "kms:*" not in actions and "*" not in actions
    admin = _statements(planned.tenant_key)["PlatformAdministers"]
    assert admin["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [
        catalogue().platform.admin_role_arn(planned.account)]}}
    assert "kms:Decrypt" not in admin["Action"]


def test_tenant_key_replication_is_denied_outside_the_backup_region(planned: Plan) -> None:
    deny = _statements(planned.tenant_key)["NoReplicaOutsideBackupRegion"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "kms:ReplicateKey"
    assert deny["Condition"] == {"StringNotEquals": {
        "kms:ReplicaRegion": planned.spec.location.backup.region}}


def test_logs_may_use_the_key_only_for_the_tenants_log_groups(planned: Plan) -> None:
    logs = _statements(planned.tenant_key)["CloudWatchLogsForTenantLogGroups"]
    assert logs["Principal"] == {"Service": f"logs.{planned.spec.region}.amazonaws.com"}
    arns = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    base = f"arn:aws:logs:{planned.spec.region}:{planned.account}:log-group:"
    assert f"{base}/tenant/{planned.spec.slug}/*" in arns
    assert all(a.startswith(base) and a != f"{base}*" for a in arns)


def test_backup_key_policy_never_names_the_tenant_account(planned: Plan) -> None:
    """The tenant account can neither use nor delete the key that protects its copies."""
    assert planned.account not in planned.backup_key["inputs"]["policy"]
