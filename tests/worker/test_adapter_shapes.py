"""What the worker's engine adapter really deploys: through provisioner.engine.Engine itself
(only the Pulumi stack and the CLI check are scripted), a suspension is an update to the
program's suspended shape and a resumption an update back to the running one."""

from __future__ import annotations

from pathlib import Path

from provisioner.spec import TenantSpec
from provisioner.worker import PulumiStackEngine
from tests.engine.test_engine_loop import ScriptedEngine, ScriptedStack, up_ok


def test_suspend_deploys_the_suspended_shape_and_up_the_running_one(tmp_path: Path) -> None:
    engine = ScriptedEngine(tmp_path, ScriptedStack([up_ok(update=2), up_ok(update=2)]))
    adapter = PulumiStackEngine(engine)  # with the real policy check
    spec = TenantSpec.create("acme", "de", "trial")
    assert adapter.suspend(spec).verb == "up"  # an update of the same stack, data kept
    assert adapter.up(spec).verb == "up"
    assert engine.suspended == [True, False]  # the program's `tenant:suspended` per operation
    assert [verb for verb, _ in engine.stack.calls if verb != "export"] == ["up", "up"]
