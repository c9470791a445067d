"""Logging, monitoring and patching in the planned tenant stack, for every location and plan."""

from __future__ import annotations

import json
import re
from collections import Counter

from provisioner.plans import PLANS
from provisioner.promises import AGENT_LOG_KINDS, TENANT_ALARMS
from stacks.components.patching import WINDOW_DAYS, WINDOW_START_HOURS, window_schedule
from tests.stack.conftest import Plan

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _agent_config(planned: Plan) -> dict:
    user_data = planned.one("aws:ec2/instance:Instance")["inputs"]["userData"]
    match = re.search(r"amazon-cloudwatch-agent\.json <<'AGENT'\n(.*?)\nAGENT\n", user_data, re.S)
    assert match, "the user data writes no agent configuration"
    assert "amazon-cloudwatch-agent-ctl -a fetch-config" in user_data
    return json.loads(match.group(1))


def test_the_agent_writes_every_kind_into_the_tenants_encrypted_groups(planned: Plan) -> None:
    entries = _agent_config(planned)["logs"]["logs_collected"]["files"]["collect_list"]
    written = {e["log_group_name"] for e in entries}
    slug = planned.spec.slug
    assert written == {f"/tenant/{slug}/{kind}" for kind in AGENT_LOG_KINDS}
    groups = {g["inputs"]["name"]: g for g in planned.of_type(LOG_GROUP)}
    for name in written:
        assert groups[name]["inputs"]["kmsKeyId"] == planned.tenant_key_arn


def test_the_instance_role_may_write_exactly_the_agents_groups(planned: Plan) -> None:
    policy = next(p for p in planned.of_type("aws:iam/rolePolicy:RolePolicy")
                  if "OwnLogGroups" in str(p["inputs"].get("policy")))
    assert policy["inputs"]["role"] == "compute-role-id"
    statement = next(s for s in json.loads(policy["inputs"]["policy"])["Statement"]
                     if s.get("Sid") == "OwnLogGroups")
    groups = {r for r in statement["Resource"] if ":log-stream:" not in r}
    expected = {f"arn:aws:logs:{planned.spec.region}:{planned.account}:log-group:/tenant/"
                f"{planned.spec.slug}/{kind}" for kind in AGENT_LOG_KINDS}
    assert groups == expected
    assert "*" not in json.dumps(sorted(groups))
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents",
                                        "logs:DescribeLogStreams"}


def test_database_writes_general_slow_and_audit_logs(planned: Plan) -> None:
    params = {p["name"]: p["value"] for p in
              planned.one("aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"]}
    assert params["general_log"] == params["slow_query_log"] == "1"
    assert params["long_query_time"] == "2" and params["log_output"] == "FILE"
    db = planned.one("aws:rds/instance:Instance")["inputs"]
    options = planned.one("aws:rds/optionGroup:OptionGroup")["inputs"]
    assert db["optionGroupName"] == "database-audit-generated"
    assert f"{db['engineVersion']}.".startswith(f"{options['majorEngineVersion']}.")  # one constant
    setting = options["options"][0]["optionSettings"][0]
    assert options["options"][0]["optionName"] == "MARIADB_AUDIT_PLUGIN"
    assert setting == {"name": "SERVER_AUDIT_EVENTS", "value": "CONNECT,QUERY_DDL,QUERY_DCL"}
    assert "audit" in db["enabledCloudwatchLogsExports"]
    assert db["monitoringInterval"] == planned.spec.plan.db_monitoring_seconds
    assert db["monitoringRoleArn"].endswith(":role/enhanced-monitoring-role")


def test_alarms_use_the_plans_thresholds_and_notify_the_regional_topic(planned: Plan) -> None:
    limits = planned.spec.plan.alarms
    alarms = {a["inputs"]["name"].removeprefix(f"t-{planned.spec.slug}-"): a["inputs"]
              for a in planned.of_type(ALARM)}
    assert set(alarms) == set(TENANT_ALARMS)
    topic = f"arn:aws:sns:{planned.spec.region}:{planned.account}:provisioner-alerts"
    for inputs in alarms.values():
        assert inputs["alarmActions"][0] == topic and inputs["actionsEnabled"] is True
    assert alarms["db-cpu"]["threshold"] == limits.db_cpu_percent
    assert alarms["db-connections"]["threshold"] == limits.db_connections
    assert alarms["db-free-memory"]["threshold"] == limits.db_free_memory_mib * 2**20
    storage = planned.spec.plan.db_storage_gib * 2**30 * limits.db_free_storage_percent / 100
    assert alarms["db-free-storage"]["threshold"] == storage
    assert alarms["lb-5xx-rate"]["threshold"] == limits.lb_5xx_percent
    assert alarms["certificate-expiry"]["threshold"] == limits.certificate_days
    assert alarms["server-system-status"]["alarmActions"][1] == \
        f"arn:aws:automate:{planned.spec.region}:ec2:recover"


def test_plans_differ_in_thresholds_where_sizes_differ() -> None:
    assert PLANS["trial"].alarms == PLANS["free"].alarms
    assert PLANS["enterprise"].alarms.db_connections > PLANS["trial"].alarms.db_connections
    assert all(p.security_log_retention_days >= 365 for p in PLANS.values())


def test_patching_targets_the_server_in_a_night_window(planned: Plan) -> None:
    window = planned.one("aws:ssm/maintenanceWindow:MaintenanceWindow")["inputs"]
    assert window["schedule"] == window_schedule(planned.spec.instance_id) and window["enabled"]
    assert window["scheduleTimezone"] != "UTC"
    tags = planned.one("aws:ec2/instance:Instance")["inputs"]["tags"]
    group = planned.one("aws:ssm/patchGroup:PatchGroup")["inputs"]
    assert group["patchGroup"] == tags["PatchGroup"] == f"tenant-{planned.spec.slug}"
    rules = planned.one("aws:ssm/patchBaseline:PatchBaseline")["inputs"]["approvalRules"]
    assert [r["approveAfterDays"] for r in rules] == [0, planned.spec.plan.patch_approval_days]
    association = planned.one("aws:ssm/association:Association")["inputs"]
    assert association["parameters"] == {"Operation": "Scan"}
    assert association["targets"][0]["values"] == ["compute-server-id"]


def test_maintenance_windows_spread_over_the_regions_tenants() -> None:
    slots = Counter(window_schedule(f"tenant{i:04d}") for i in range(2800))
    assert len(slots) == len(WINDOW_DAYS) * len(WINDOW_START_HOURS)  # every slot used
    assert max(slots.values()) < 2 * min(slots.values())  # none twice as full as another
