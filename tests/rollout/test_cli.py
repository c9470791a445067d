"""The rollout and tenant commands: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.registry import Registry
from tests.rollout.conftest import add_tenants, release


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_start_steer_and_show_a_rollout() -> None:
    with Registry.open() as registry:
        add_tenants(registry, "acme-de", "bravo-de", plan="standard")
        r1 = release(registry, 1)
    assert _cli("tenants", "canary", "acme-de")[0] == 0
    code, out, _ = _cli("tenants", "window", "bravo-de", "02:00-03:00", "-o", "json")
    assert code == 0 and json.loads(out)["maintenance_window"] == "02:00-03:00 Europe/Berlin"
    code, _, err = _cli("tenants", "pin", "bravo-de", "--until", "2099-01-01")
    assert code == 2 and "--reason is required" in err
    code, _, err = _cli("tenants", "pin", "bravo-de", "--until", "2001-01-01", "--reason", "x")
    assert code == 2 and "in the past" in err
    code, _, err = _cli("rollout", "start", str(r1.id), "--no-plan", "--ignore-windows")
    assert code == 2 and "--reason" in err
    code, _, err = _cli("rollout", "start", str(r1.id), "--no-plan", "--reason", "t",
                        "--waves", "canary,5%,1%")
    assert code == 2 and "growing percentage" in err
    assert _cli("rollout", "start", "99", "--no-plan", "--reason", "t")[0] == 2
    code, out, err = _cli("rollout", "start", str(r1.id), "--no-plan", "--reason", "cve fix",
                          "--error-budget", "5%", "-o", "json")
    assert code == 0, err
    started = json.loads(out)
    assert started["state"] == "running" and started["strategy"]["error_budget"] == "5%"
    assert started["waves"][0]["name"] == "canary"
    rollout_id = str(started["id"])
    code, _, err = _cli("rollout", "resume", rollout_id)
    assert code == 2 and "cannot resume" in err
    assert json.loads(_cli("rollout", "pause", rollout_id, "-o", "json")[1])["state"] == "paused"
    code, out, _ = _cli("tenants", "show", "bravo-de", "-o", "json")
    assert "paused" in json.loads(out)["releases"]["waiting"]
    assert json.loads(_cli("rollout", "resume", rollout_id, "-o", "json")[1])["state"] == "running"
    assert json.loads(_cli("rollout", "abort", rollout_id, "-o", "json")[1])["state"] == "aborted"
    code, out, _ = _cli("rollout", "status", rollout_id, "--tenants", "-o", "json")
    status = json.loads(out)
    assert [e["kind"] for e in status["events"]] == [
        "rollout.started", "rollout.paused", "rollout.resumed", "rollout.aborted"]
    assert {t["slug"] for t in status["tenant_list"]} == {"acme-de", "bravo-de"}
    code, out, _ = _cli("rollout", "status")
    assert code == 0 and "aborted" in out
    assert _cli("rollout", "status", "42")[0] == 2
