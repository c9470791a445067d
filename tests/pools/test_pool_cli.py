"""`pool fill|drain|status` against a registry of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from tests.registry.conftest import point_cli_at


def _run(*args: str) -> dict:
    out = CliRunner().invoke(app, ["pool", *args, "-o", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_fill_status_drain(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    assert _run("fill", "de", "--size", "3")["target"] == 3
    (pool,) = _run("status")["pools"]
    assert (pool["location"], pool["target"], pool["ready"]) == ("de", 3, 0)
    assert pool["idle_cost_per_month"] is None  # unpriced, never 0
    assert pool["recommended"] >= 1
    assert _run("drain", "de")["target"] == 0
    assert _run("status")["pools"][0]["target"] == 0


def test_fill_an_unknown_location_changes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    out = CliRunner().invoke(app, ["pool", "fill", "mars"])
    assert out.exit_code == 2 and "unknown location 'mars'" in out.output
    assert _run("status")["pools"] == []
