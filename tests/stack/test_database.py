"""MySQL 8 on RDS: encrypted with the tenant key, private, TLS required, password kept by RDS."""

from __future__ import annotations

from collections import Counter

from provisioner.spec import TenantSpec
from stacks.components.database import APP_DB_USER, maintenance_window
from tests.stack.conftest import Plan

DB = "aws:rds/instance:Instance"


def test_database_is_mysql_8_4_lts_with_automatic_minor_upgrades(planned: Plan) -> None:
    db = planned.one(DB)
    assert db["inputs"]["engine"] == "mysql"
    assert db["inputs"]["engineVersion"] == "8.4"
    assert db["inputs"]["autoMinorVersionUpgrade"] is True


def test_maintenance_window_is_the_tenants_own_after_the_backup_window(planned: Plan) -> None:
    window = planned.one(DB)["inputs"]["maintenanceWindow"]
    assert window == maintenance_window(planned.spec)
    day, start = window.split("-")[0].split(":", 1)
    assert day in {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert "04:00" <= start <= "05:30"  # after the 02:00 backup window and 03:00 backup job


def test_maintenance_windows_spread_across_a_regions_tenants() -> None:
    windows = [maintenance_window(TenantSpec.create(f"tenant-{i}", "de", "trial"))
               for i in range(280)]
    counts = Counter(windows)
    assert len(counts) == 28  # every slot used
    assert max(counts.values()) <= 3 * 280 / 28  # none crowded
    again = maintenance_window(TenantSpec.create("tenant-7", "de", "standard"))
    assert again == windows[7], "a tenant's window does not move with its plan"


def test_the_app_connects_as_an_iam_authenticated_user_not_the_master(planned: Plan) -> None:
    db = planned.one(DB)["inputs"]
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["username"] != APP_DB_USER
    user_data = planned.one("aws:ec2/instance:Instance")["inputs"]["userData"]
    assert f"CRM_DB_USER={APP_DB_USER}" in user_data and "CRM_DB_AUTH=iam" in user_data
    assert "SECRET" not in user_data and db["username"] not in user_data


def test_database_storage_is_encrypted_with_the_tenant_key(planned: Plan) -> None:
    db = planned.one(DB)
    assert db["inputs"]["storageEncrypted"] is True
    assert db["inputs"]["kmsKeyId"] == planned.tenant_key_arn


def test_database_is_not_publicly_accessible(planned: Plan) -> None:
    assert planned.one(DB)["inputs"]["publiclyAccessible"] is False


def test_database_requires_tls_through_its_parameter_group(planned: Plan) -> None:
    params = planned.one("aws:rds/parameterGroup:ParameterGroup")
    assert params["inputs"]["family"] == "mysql8.4"
    values = {p["name"]: p["value"] for p in params["inputs"]["parameters"]}
    assert values["require_secure_transport"] == "1"
    assert planned.one(DB)["inputs"]["parameterGroupName"] == f"{params['name']}-generated"


def test_master_password_is_managed_by_rds_under_the_tenant_key(planned: Plan) -> None:
    db = planned.one(DB)["inputs"]
    assert db["manageMasterUserPassword"] is True
    assert db["masterUserSecretKmsKeyId"] == planned.tenant_key_arn
    assert "password" not in db and "passwordWo" not in db


def test_automated_backups_and_log_exports_are_on(planned: Plan) -> None:
    db = planned.one(DB)["inputs"]
    assert db["backupRetentionPeriod"] == planned.spec.plan.backup_retention_days >= 7
    assert set(db["enabledCloudwatchLogsExports"]) >= {"error", "slowquery"}


def test_database_log_groups_exist_before_rds_creates_them_unencrypted(planned: Plan) -> None:
    identifier = planned.one(DB)["inputs"]["identifier"]
    groups = {g["inputs"]["name"]: g for g in planned.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for log in planned.one(DB)["inputs"]["enabledCloudwatchLogsExports"]:
        group = groups[f"/aws/rds/instance/{identifier}/{log}"]
        assert group["inputs"]["kmsKeyId"] == planned.tenant_key_arn


def test_deletion_protection_and_multi_az_follow_the_plan(planned: Plan) -> None:
    db = planned.one(DB)["inputs"]
    assert db["deletionProtection"] is planned.spec.plan.deletion_protection
    assert db["multiAz"] is planned.spec.plan.multi_az


def test_performance_insights_when_on_use_the_tenant_key(planned: Plan) -> None:
    db = planned.one(DB)["inputs"]
    if planned.spec.plan.performance_insights:
        assert db["performanceInsightsEnabled"] is True
        assert db["performanceInsightsKmsKeyId"] == planned.tenant_key_arn
    else:
        assert db["performanceInsightsEnabled"] is False
