"""Binding a pooled instance to a customer replaces and deletes nothing (planned offline), and a
physical name derived from the slug instead of the instance id is caught."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.pools.bind_diff import SAMPLE_INSTANCE_ID, SAMPLE_SLUG, bind_diff
from provisioner.spec import TenantSpec


def _names_from_slug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TenantSpec, "resource_prefix", property(lambda s: f"t-{s.slug}"))


@pytest.mark.parametrize("location", ["us", "de"])  # cross-region backup copy, and same-region
def test_binding_changes_only_tags_dns_and_app_config(location: str) -> None:
    result = bind_diff(location, "trial")
    assert result.violations == ()
    assert result.changes["replace"] == [] and result.changes["delete"] == []
    # The customer's two DNS names (the app and mail.<hostname>) appear only once bound.
    created = sorted((e["type"], e["name"]) for e in result.changes["create"])
    assert created == [("aws:route53/record:Record", "edge-dns"),
                       ("aws:route53/record:Record", "edge-mail-dns")]
    config = [e for e in result.changes["update"] if e["type"] == "aws:ssm/parameter:Parameter"]
    value = next(c for c in config[0]["changes"] if c["path"] == "insecureValue")
    assert json.loads(value["after"])["slug"] == SAMPLE_SLUG
    assert SAMPLE_SLUG not in value["before"]


def test_a_physical_name_from_the_slug_is_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    # The database identifier (and its log groups) derived from the slug, as before this issue.
    _names_from_slug(monkeypatch)
    result = bind_diff("us", "trial")
    assert result.changes["replace"], "renaming the database must be a replacement"
    assert "replaces database-instance (identifier changed)" in result.violations


def test_a_stack_name_from_the_slug_deletes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TenantSpec, "stack_name", property(lambda s: f"tenant-{s.slug}"))
    result = bind_diff("us", "trial")
    assert any(v.startswith("deletes ") for v in result.violations)


def test_bind_diff_command_json_and_exit_code() -> None:
    out = CliRunner().invoke(app, ["pool", "bind-diff", "--location", "uk", "-o", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["ok"] is True and data["instance_id"] == SAMPLE_INSTANCE_ID
    assert data["counts"]["replace"] == 0 and data["counts"]["delete"] == 0


def test_bind_diff_command_fails_on_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    _names_from_slug(monkeypatch)
    out = CliRunner().invoke(app, ["pool", "bind-diff", "--location", "us"])
    assert out.exit_code == 1
    assert "does more than tags" in out.output


def test_unknown_location_is_a_usage_error() -> None:
    out = CliRunner().invoke(app, ["pool", "bind-diff", "--location", "mars"])
    assert out.exit_code == 2
    assert "unknown location 'mars'" in out.output


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("stacks.components.observability", "waf_log_group_name"),  # WAF's aws-waf-logs-... group
        ("stacks.components.keys", "app_role_name"),  # tenant-<x>-app, named in the key policy
        ("stacks.components.patching", "patch_group"),  # the window's target and the server's tag
        ("stacks.components.keys", "db_bootstrap_role_name"),  # named in the key policy too
        ("stacks.components.db_bootstrap", "function_name"),  # the bootstrap function's name
    ],
)
def test_a_later_physical_name_from_the_slug_is_a_violation(
    monkeypatch: pytest.MonkeyPatch, module: str, function: str
) -> None:
    # Names added after warm pools (WAF, the role's fixed name, patching) derive from the
    # instance id too: one derived from the slug again would rename something at binding.
    import importlib

    target = importlib.import_module(module)
    original = getattr(target, function)

    def from_slug(spec: TenantSpec) -> str:
        return str(original(spec)).replace(spec.instance_id, spec.slug)

    monkeypatch.setattr(target, function, from_slug)
    for name in ("stacks.components.compute", "stacks.components.edge", "stacks.tenant_stack",
                 "stacks.components.db_bootstrap"):
        user = importlib.import_module(name)
        if hasattr(user, function):  # imported by name: patch that binding as well
            monkeypatch.setattr(user, function, from_slug)
    assert bind_diff("us", "trial").violations != ()
