"""The offline planner itself: repeatable, isolated between runs, and leaving the SDK as found."""

from __future__ import annotations

import pulumi.runtime.resource as sdk_resource

from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan


def test_planning_leaves_the_sdks_source_position_hook_as_it_was() -> None:
    before = sdk_resource._get_stack_trace
    synth_plan(TenantSpec.create("acme", "de", "trial"))
    assert sdk_resource._get_stack_trace is before


def test_runs_in_one_process_do_not_leak_into_each_other() -> None:
    first = synth_plan(TenantSpec.create("first", "de", "trial"))
    synth_plan(TenantSpec.create("other", "jp", "enterprise"))
    again = synth_plan(TenantSpec.create("first", "de", "trial"))
    assert first == again
    assert all("other" not in r["urn"] for r in again["resources"])


def test_a_plan_runs_in_a_thread_without_an_event_loop_of_its_own() -> None:
    """Workers plan (for the policy gate) in their reconcile threads."""
    import threading

    results: list[dict] = []
    thread = threading.Thread(
        target=lambda: results.append(synth_plan(TenantSpec.create("acme", "de", "trial")))
    )
    thread.start()
    thread.join()
    assert results == [synth_plan(TenantSpec.create("acme", "de", "trial"))]
