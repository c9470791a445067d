"""Errors are defined once, in provisioner/errors.py's documented tree, and carry their context
(tenant, resource, rule, ...) as attributes that callers read instead of the message."""

from __future__ import annotations

import ast
import inspect
import re
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions
import pytest

from provisioner import errors, lifecycle
from provisioner.audit.clients import aws_errors
from provisioner.policy.graph import Resource, Unknown
from provisioner.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _classes() -> dict[str, type[errors.ProvisionerError]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == errors.__name__
    }


def test_the_documented_tree_is_the_class_tree() -> None:
    """Each line of the module's tree names a class and its parent by indentation."""
    documented: dict[str, str | None] = {}
    parents: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^    [│ ├└─]*([A-Z]\w+)\s{2,}", line)
        if not found:
            continue
        depth = found.start(1) // 4  # four columns a level
        while parents and parents[-1][0] >= depth:
            parents.pop()
        documented[found.group(1)] = parents[-1][1] if parents else None
        parents.append((depth, found.group(1)))
    classes = _classes()
    assert set(documented) == set(classes)
    for name, parent in documented.items():
        base = classes[name].__bases__[0]
        assert (base.__name__ if base is not Exception else None) == parent, name


def test_no_other_module_defines_an_exception() -> None:
    ours = set(_classes())
    defined = []
    for path in sorted([*(ROOT / "provisioner").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]):
        if path == ROOT / "provisioner" / "errors.py":
            continue
        if path.parent == ROOT / "stacks" / "db_bootstrap":
            continue  # shipped alone to the database bootstrap's Lambda: provisioner isn't there
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in ours)
                for b in node.bases
            ):
                defined.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert defined == []


def test_registry_errors_name_their_tenant(tmp_path: Path) -> None:
    from provisioner.spec import TenantSpec

    with Registry.open(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        with pytest.raises(errors.TenantNotFound) as missing:
            registry.get_tenant("ghost")
        assert missing.value.tenant == "ghost"
        registry.create_tenant(TenantSpec.create("acme", "de", "trial"), actor="t", at=T0)
        with pytest.raises(errors.TenantExists) as taken:
            registry.create_tenant(TenantSpec.create("acme", "de", "trial"), actor="t", at=T0)
        assert taken.value.tenant == "acme"
        with pytest.raises(errors.IllegalTransition) as refused:
            registry.resume("acme", actor="t", at=T0)  # not suspended
        assert refused.value.tenant == "acme"


def test_a_refusal_due_to_a_retention_rule_names_the_rule() -> None:
    from provisioner import retention

    facts = lifecycle.new_tenant("acme", "trial", T0, None)
    late = T0.replace(year=2027)  # long past the trial's deletion date
    with pytest.raises(errors.IllegalTransition) as refused:
        retention.settle_before(facts, late, "resume")
    assert refused.value.tenant == "acme" and refused.value.rule == lifecycle.RULE_TRIAL


def test_aws_refusals_carry_the_operation_and_code() -> None:
    refusal = botocore.exceptions.ClientError(
        {"Error": {"Code": "VolumeLimitExceeded", "Message": "too many"}}, "CreateVolume"
    )
    with pytest.raises(errors.AwsRefused) as caught, aws_errors():
        raise refusal
    assert (caught.value.operation, caught.value.code) == ("CreateVolume", "VolumeLimitExceeded")


def test_an_unknown_policy_input_names_the_resource_and_field() -> None:
    res = Resource("urn:x", "aws:iam/role:Role", "app-role", "global", "", {"rules": Unknown(())})
    with pytest.raises(errors.Undetermined) as caught:
        res.items("rules")
    assert (caught.value.resource, caught.value.field) == ("app-role", "rules")
