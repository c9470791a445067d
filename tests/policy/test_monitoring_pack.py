"""MON-* rules in the CrossGuard pack during a preview: values not known yet defer the verdict
instead of failing it (the user data and the alarm actions depend on outputs)."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UnknownValueError

from tests.policy.conftest import real_plan
from tests.policy.test_pack import run_policy, stack_resources


def test_unknown_user_data_defers_the_agent_rule() -> None:
    plan = real_plan("de", "standard")
    assert run_policy("MON-006", stack_resources(plan)) == []
    with pytest.raises(UnknownValueError):
        run_policy("MON-006", stack_resources(plan, {("compute-server", "userData"):
                                                     ["database-instance"]}))


def test_unknown_alarm_actions_defer_the_action_rule() -> None:
    plan = real_plan("de", "standard")
    with pytest.raises(UnknownValueError):
        run_policy("MON-002", stack_resources(plan, {("alarms-db-cpu", "alarmActions"): []}))
