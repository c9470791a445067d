"""Findings a reviewer reads in a pull-request comment say what to change in plain words."""

from __future__ import annotations

from tests.policy.conftest import real_plan
from tests.policy.helpers import find, findings

DB = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"


def test_db_001_names_the_supported_version_and_family_in_words() -> None:
    """A major upgrade past the supported line: both findings name what to use instead, never a
    Python tuple, and the parameter group's finding does not contradict itself."""
    plan = real_plan("de", "standard")
    find(plan, DB)["inputs"]["engineVersion"] = "9.4"
    find(plan, PARAMS)["inputs"]["family"] = "mysql9.4"
    messages = sorted(f.message for f in findings(plan, "DB-001"))
    assert messages == [
        "database database-instance runs mysql 9.4: use a version in RDS standard support"
        " (mysql 8.4)",
        "parameter group database-params-mysql84 is for family mysql9.4: use mysql8.4, the family"
        " of a version in RDS standard support",
    ]
