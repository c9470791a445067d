"""The tenant's own key: customer-managed, rotated, multi-region, usable in the backup region."""

from __future__ import annotations

import json

from tests.stack.conftest import Plan


def test_tenant_has_exactly_one_customer_managed_key_in_its_region(planned: Plan) -> None:
    key = planned.tenant_key
    assert key["region"] == planned.spec.region
    assert key["inputs"]["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"  # AES-256-GCM
    assert key["inputs"]["keyUsage"] == "ENCRYPT_DECRYPT"


def test_key_rotation_is_on(planned: Plan) -> None:
    assert planned.tenant_key["inputs"]["enableKeyRotation"] is True


def test_key_is_multi_region_with_a_replica_in_the_backup_region(planned: Plan) -> None:
    assert planned.tenant_key["inputs"]["multiRegion"] is True
    backup = planned.spec.location.backup
    replicas = planned.of_type("aws:kms/replicaKey:ReplicaKey")
    if backup.mode == "cross-region":
        assert len(replicas) == 1
        assert replicas[0]["region"] == backup.region
        assert replicas[0]["inputs"]["primaryKeyArn"] == planned.tenant_key_arn
    else:  # air-gapped vault in the same region: the primary key serves it
        assert replicas == []


def test_key_has_an_alias_named_after_the_tenant(planned: Plan) -> None:
    aliases = planned.of_type("aws:kms/alias:Alias")
    primary = [a for a in aliases if a["region"] == planned.spec.region]
    assert [a["inputs"]["name"] for a in primary] == [f"alias/tenant-{planned.spec.slug}"]
    assert primary[0]["inputs"]["targetKeyId"] == planned.id(planned.tenant_key)


def test_key_policy_lets_logs_use_it_only_for_this_accounts_log_groups(planned: Plan) -> None:
    policy = json.loads(planned.tenant_key["inputs"]["policy"])
    logs = [s for s in policy["Statement"] if s["Sid"] == "CloudWatchLogsEncrypt"]
    assert logs[0]["Principal"] == {"Service": f"logs.{planned.spec.region}.amazonaws.com"}
    condition = logs[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == f"arn:aws:logs:{planned.spec.region}:{planned.account}:log-group:*"
