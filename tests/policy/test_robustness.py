"""Rules read hand-edited plans: any input at any depth removed or replaced by a value of the
wrong type must give a verdict, never crash a rule (which surfaces as "could not check")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.policy import evaluate
from tests.policy.conftest import real_plan

_REMOVE = object()
WRONG_VALUES = [_REMOVE, True, 5.0, "garbage", {}, [None]]

Path = tuple[Any, ...]


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key path inside a nested input, parents before children."""
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def _crashes(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.rule_id, f.message) for f in evaluate(plan).failures
            if f.message.startswith("could not check")]


def _set(container: Any, key: Any, value: Any) -> None:
    if value is _REMOVE and isinstance(container, dict):
        del container[key]
    else:
        container[key] = None if value is _REMOVE else value


def test_every_input_path_with_every_wrong_type() -> None:
    plan = real_plan("de", "standard")
    crashes = []
    for res in plan["resources"]:
        for path in list(_paths(res["inputs"])):
            container: Any = res["inputs"]
            for step in path[:-1]:
                container = container[step]
            original = container[path[-1]]
            for wrong in WRONG_VALUES:
                _set(container, path[-1], wrong)
                found = _crashes(plan)
                if found:
                    crashes.append((res["name"], path, repr(wrong), found[0]))
                container[path[-1]] = original  # dict order is irrelevant to the rules
    assert crashes == [], "\n".join(map(str, crashes))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_several_mangled_inputs_at_once(data: st.DataObject) -> None:
    plan = real_plan(data.draw(st.sampled_from(["uk", "us"])), "enterprise")
    targets = [(res, path) for res in plan["resources"] for path in _paths(res["inputs"])]
    for _ in range(data.draw(st.integers(min_value=2, max_value=6))):
        res, path = data.draw(st.sampled_from(targets))
        container: Any = res["inputs"]
        try:
            for step in path[:-1]:
                container = container[step]
            container[path[-1]]  # still there after earlier mangling?
        except (KeyError, IndexError, TypeError):
            continue
        _set(container, path[-1], data.draw(st.sampled_from(WRONG_VALUES)))
    assert _crashes(plan) == []
