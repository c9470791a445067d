"""How rules resolve references: ARNs, ids, names and preview unknowns back to resources."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.errors import Undetermined
from provisioner.policy.graph import Graph, Resource, Unknown, region_of_arn, truthy
from provisioner.policy.rules.backups import is_daily


def graph(*resources: tuple[str, str, dict[str, Any]]) -> Graph:
    return Graph(tenant={"region": "eu-central-1"}, resources=[
        Resource(urn=f"urn:pulumi:s::p::{t}::{n}", type=t, name=n, region="eu-central-1",
                 parent="", inputs=i) for t, n, i in resources])


KEY = "aws:kms/key:Key"
GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_an_arn_resolves_by_its_resource_part_not_its_type_word() -> None:
    g = graph((KEY, "key", {}), (KEY, "tenant-key", {}))
    found = g.referents("arn:aws:kms:eu-central-1:123456789012:key/tenant-key-id")
    assert [r.name for r in found] == ["tenant-key"]  # not the resource named "key"


def test_log_group_arns_resolve_with_or_without_the_stream_wildcard() -> None:
    g = graph((GROUP, "flow", {"name": "/tenant/demo/flow"}))
    for arn in ("arn:aws:logs:eu-central-1:1:log-group:/tenant/demo/flow",
                "arn:aws:logs:eu-central-1:1:log-group:/tenant/demo/flow:*"):
        assert [r.name for r in g.referents(arn)] == ["flow"]


def test_references_are_limited_to_the_wanted_types() -> None:
    g = graph((KEY, "data", {}), (GROUP, "data-logs", {"name": "data-id"}))
    assert [r.type for r in g.referents("data-id", [KEY])] == [KEY]
    assert g.referents("nothing-id") == []
    assert g.referents(None) == [] and g.referents(42) == []


def test_an_unknown_value_resolves_to_its_dependencies() -> None:
    g = graph((KEY, "a", {}), (KEY, "b", {}), (GROUP, "c", {}))
    unknown = Unknown(tuple(r.urn for r in g.resources))
    assert [r.name for r in g.referents(unknown, [KEY])] == ["a", "b"]
    with pytest.raises(Undetermined):
        truthy(unknown)


def test_region_of_arn() -> None:
    assert region_of_arn("arn:aws:backup:eu-west-1:1:backup-vault:x") == "eu-west-1"
    assert region_of_arn("arn:aws:s3:::bucket") is None
    assert region_of_arn("vault-id") is None


@pytest.mark.parametrize(("schedule", "daily"), [
    ("cron(0 3 ? * * *)", True),
    ("cron(0 3 * * ? *)", True),
    ("cron(0 */6 * * ? *)", True),
    ("rate(1 day)", True),
    ("rate(24 hours)", True),
    ("rate(25 hours)", False),
    ("cron(0 3 ? * MON *)", False),
    ("cron(0 3 1 * ? *)", False),
    ("cron(0 3 ? 1 * *)", False),
    ("cron(0 3 * *)", False),
    ("daily", False),
    (None, False),
])
def test_daily_schedules(schedule: Any, daily: bool) -> None:
    assert is_daily(schedule) is daily
