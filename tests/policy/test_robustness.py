"""Rules read hand-edited plans: any input of any resource removed or replaced by a value of
the wrong type must give a verdict, never crash a rule (which would surface as "could not
check")."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.policy import evaluate
from tests.policy.conftest import real_plan

_REMOVE = object()
WRONG_VALUES = st.sampled_from([_REMOVE, None, "", "garbage", 0.0, -1.0, True, [], {}, [None],
                                [{}], {"x": None}])


def _keys(container: Any) -> list[Any]:
    if isinstance(container, dict):
        return sorted(container)
    if isinstance(container, list):
        return list(range(len(container)))
    return []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_rule_crashes_on_a_mangled_plan(data: st.DataObject) -> None:
    plan = real_plan(data.draw(st.sampled_from(["de", "uk"])), "standard")
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        res = data.draw(st.sampled_from(plan["resources"]))
        container: Any = res["inputs"]
        # Walk down a few levels (rules, actions, ingress entries) before mangling a value.
        for _depth in range(data.draw(st.integers(min_value=0, max_value=3))):
            keys = _keys(container)
            if not keys:
                break
            child = container[data.draw(st.sampled_from(keys))]
            if not isinstance(child, dict | list) or not child:
                break
            container = child
        keys = _keys(container)
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys))
        value = data.draw(WRONG_VALUES)
        if value is _REMOVE and isinstance(container, dict):
            del container[key]
        else:
            container[key] = None if value is _REMOVE else value
    report = evaluate(plan)
    crashed = [f for f in report.failures if f.message.startswith("could not check")]
    assert crashed == [], [(f.rule_id, f.message) for f in crashed]
