"""Mutations for the logging, monitoring and patching rules (MON-*), on the same real plan as
tests/policy/cases.py: each change that breaks a promise must fail its rule, each near miss
must pass."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.policy.cases import (
    DB,
    DELETE,
    INSTANCE,
    LIFECYCLE,
    LOG_GROUP,
    PARAMS,
    ROLE,
    TAGS,
    Case,
    Plan,
    adding,
    naming,
    removing,
    setting,
)
from tests.policy.helpers import find

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
OPTIONS = "aws:rds/optionGroup:OptionGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BASELINE = "aws:ssm/patchBaseline:PatchBaseline"
WINDOW = "aws:ssm/maintenanceWindow:MaintenanceWindow"
WINDOW_TASK = "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask"
ASSOCIATION = "aws:ssm/association:Association"
POWER = "aws:ec2transitgateway/instanceState:InstanceState"
TOPIC = "arn:aws:sns:eu-central-1:123456789012:provisioner-alerts"
RECOVER = "arn:aws:automate:eu-central-1:ec2:recover"


def at(what: str) -> Callable[[dict], bool]:
    """Where-clause for the tenant's alarm `t-demo-<what>`."""
    return lambda i: i.get("name") == f"t-demo-{what}"




def _param(name: str, value: str):
    def mutate(plan: Plan) -> str:
        res = find(plan, PARAMS)
        for p in res["inputs"]["parameters"]:
            if p["name"] == name:
                p["value"] = value
        return str(res["urn"])

    return mutate


def _without_alarm(what: str):
    def mutate(plan: Plan) -> None:
        plan["resources"] = [r for r in plan["resources"]
                             if r["inputs"].get("name") != f"t-demo-{what}"]

    return mutate


def _agent_grant(resources: list[str]):
    def mutate(plan: Plan) -> None:
        res = find(plan, ROLE_POLICY, lambda i: "OwnLogGroups" in str(i.get("policy")))
        doc = json.loads(res["inputs"]["policy"])
        grant = next(s for s in doc["Statement"] if s.get("Sid") == "OwnLogGroups")
        grant["Resource"] = resources
        res["inputs"]["policy"] = json.dumps(doc)

    return mutate


def _at_app_group(mutate: Callable[[Plan], object]) -> Callable[[Plan], str]:
    """Apply `mutate`; the failure is expected on the app's own log group."""

    def run(plan: Plan) -> str:
        mutate(plan)
        return str(find(plan, LOG_GROUP, lambda i: i.get("name") == "/tenant/demo/app")["urn"])

    return run


def _user_data(edit):
    def mutate(plan: Plan) -> str:
        res = find(plan, INSTANCE)
        res["inputs"]["userData"] = edit(res["inputs"]["userData"])
        return str(res["urn"])

    return mutate


def _suspend_with_app_alarms_off(plan: Plan) -> None:
    find(plan, POWER)["inputs"]["state"] = "stopped"
    for what in ("lb-5xx-rate", "unhealthy-targets", "server-system-status",
                 "server-instance-status"):
        find(plan, ALARM, at(what))["inputs"]["actionsEnabled"] = False


CASES = [
    Case("MON-001", "no-db-cpu-alarm", _without_alarm("db-cpu"), True),
    Case("MON-001", "no-5xx-alarm", _without_alarm("lb-5xx-rate"), True),
    Case("MON-001", "stricter-threshold", setting(ALARM, ("threshold",), 70.0,
                                                  at("db-cpu")), False),
    Case("MON-002", "no-action", setting(ALARM, ("alarmActions",), [],
                                         at("db-cpu")), True),
    Case("MON-002", "actions-disabled", setting(ALARM, ("actionsEnabled",), False,
                                                at("db-cpu")), True),
    Case("MON-002", "app-alarm-off-while-running", setting(
        ALARM, ("actionsEnabled",), False, at("lb-5xx-rate")),
        True),
    Case("MON-002", "topic-of-another-account", setting(
        ALARM, ("alarmActions",),
        ["arn:aws:sns:eu-central-1:999999999999:provisioner-alerts"], at("db-cpu")),
        True),
    Case("MON-002", "topic-in-another-region", setting(
        ALARM, ("alarmActions",), [TOPIC.replace("eu-central-1", "us-east-1")],
        at("db-cpu")), True),
    Case("MON-002", "suspended-app-alarms-off", _suspend_with_app_alarms_off, False),
    Case("MON-002", "extra-action", setting(
        ALARM, ("alarmActions",), [TOPIC, RECOVER], at("db-cpu")), False),
    Case("MON-003", "no-recover-action", naming(INSTANCE, setting(
        ALARM, ("alarmActions",), [TOPIC],
        at("server-system-status"))), True),
    Case("MON-003", "recover-in-another-region", naming(INSTANCE, setting(
        ALARM, ("alarmActions",),
        [TOPIC, RECOVER.replace("eu-central-1", "eu-west-1")],
        at("server-system-status"))), True),
    Case("MON-003", "recover-listed-first", setting(
        ALARM, ("alarmActions",), [RECOVER, TOPIC],
        at("server-system-status")), False),
    Case("MON-004", "interval-zero", setting(DB, ("monitoringInterval",), 0.0), True),
    Case("MON-004", "no-role", setting(DB, ("monitoringRoleArn",), DELETE), True),
    Case("MON-004", "role-trusts-ec2", naming(DB, setting(
        ROLE, ("assumeRolePolicy",), json.dumps({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        lambda i: "monitoring.rds" in str(i.get("assumeRolePolicy")))), True),
    Case("MON-004", "five-seconds", setting(DB, ("monitoringInterval",), 5.0), False),
    Case("MON-005", "general-log-off", _param("general_log", "0"), True),
    Case("MON-005", "slow-log-threshold-a-minute", _param("long_query_time", "60"), True),
    Case("MON-005", "log-to-table", _param("log_output", "TABLE"), True),
    Case("MON-005", "no-audit-plugin", naming(DB, setting(OPTIONS, ("options",), [])), True),
    Case("MON-005", "audit-without-dcl", naming(DB, setting(
        OPTIONS, ("options", 0, "optionSettings", 0, "value"), "CONNECT,QUERY_DDL")), True),
    Case("MON-005", "no-option-group", setting(DB, ("optionGroupName",), DELETE), True),
    Case("MON-005", "audit-not-exported", setting(
        DB, ("enabledCloudwatchLogsExports",), ["error", "general", "slowquery"]), True),
    Case("MON-005", "one-second-threshold", _param("long_query_time", "1"), False),
    Case("MON-005", "audit-queries-too", setting(
        OPTIONS, ("options", 0, "optionSettings", 0, "value"),
        "CONNECT,QUERY_DDL,QUERY_DCL,QUERY_DML"), False),
    Case("MON-006", "no-agent", _user_data(lambda u: u.split("# Logs to the tenant")[0]), True),
    Case("MON-006", "no-ssm-sessions", _user_data(
        lambda u: u.replace("/tenant/demo/ssm-sessions", "/tenant/demo/system")), True),
    Case("MON-006", "unknown-group", _user_data(
        lambda u: u.replace("/tenant/demo/nginx-error", "/tenant/demo/nginx-errors")), True),
    Case("MON-006", "two-files-one-group", _user_data(
        lambda u: u.replace("/var/log/secure", "/var/log/cron")), False),
    Case("MON-007", "agent-grant-removed", naming(LOG_GROUP, removing(ROLE_POLICY)), True),
    Case("MON-007", "grant-misses-app-group", _at_app_group(_agent_grant(
        ["arn:aws:logs:eu-central-1:123456789012:log-group:/tenant/demo/nginx-*"])), True),
    Case("MON-007", "orphan-group", adding(LOG_GROUP, "orphan", {
        "name": "/tenant/demo/orphan", "kmsKeyId": "keys-key-id", "retentionInDays": 90.0,
        "region": "eu-central-1", "tags": TAGS}), True),
    Case("MON-007", "grant-by-prefix", _agent_grant(
        ["arn:aws:logs:eu-central-1:123456789012:log-group:/tenant/demo/*"]), False),
    Case("MON-008", "flow-logs-90-days", setting(
        LOG_GROUP, ("retentionInDays",), 90.0,
        lambda i: str(i.get("name")).endswith("vpc-flow-logs")), True),
    Case("MON-008", "audit-30-days", setting(LOG_GROUP, ("retentionInDays",), 30.0,
                                             lambda i: str(i.get("name")).endswith("/audit")),
         True),
    Case("MON-008", "sessions-survive-deletion", setting(
        LOG_GROUP, ("skipDestroy",), True,
        lambda i: str(i.get("name")).endswith("/ssm-sessions")), True),
    Case("MON-008", "access-logs-90-days", setting(
        LIFECYCLE, ("rules", 0, "expiration", "days"), 90.0), True),
    Case("MON-008", "app-log-90-days", setting(
        LOG_GROUP, ("retentionInDays",), 90.0, lambda i: str(i.get("name")).endswith("/app")),
         False),
    Case("MON-008", "flow-logs-two-years", setting(
        LOG_GROUP, ("retentionInDays",), 731.0,
        lambda i: str(i.get("name")).endswith("vpc-flow-logs")), False),
    Case("MON-009", "no-scan-association", naming(INSTANCE, removing(ASSOCIATION)), True),
    Case("MON-009", "no-maintenance-window", naming(INSTANCE, removing(WINDOW)), True),
    Case("MON-009", "window-disabled", naming(INSTANCE, setting(WINDOW, ("enabled",), False)),
         True),
    Case("MON-009", "task-only-scans", naming(INSTANCE, setting(
        WINDOW_TASK, ("taskInvocationParameters", "runCommandParameters", "parameters", 0,
                      "values"), ["Scan"])), True),
    Case("MON-009", "security-after-30-days", setting(
        BASELINE, ("approvalRules", 1, "approveAfterDays"), 30.0), True),
    Case("MON-009", "critical-after-a-week", setting(
        BASELINE, ("approvalRules", 0, "approveAfterDays"), 7.0), True),
    Case("MON-009", "untagged-server", setting(INSTANCE, ("tags", "PatchGroup"), DELETE), True),
    Case("MON-009", "security-after-a-day", setting(
        BASELINE, ("approvalRules", 1, "approveAfterDays"), 1.0), False),
    Case("MON-010", "minor-upgrades-off", setting(DB, ("autoMinorVersionUpgrade",), False), True),
    Case("MON-010", "flag-absent", setting(DB, ("autoMinorVersionUpgrade",), DELETE), False),
]
