"""The layering the project promises, checked by walking every module's imports.

- only provisioner/engine imports pulumi.automation (the Automation API);
- only provisioner/audit imports boto3 and botocore (it creates the AWS clients), save the
  exceptions listed below with their reason;
- only provisioner/registry imports SQLAlchemy and Alembic (the registry owns the database);
- stacks/ (the Pulumi program) imports no registry, no AWS SDK, no CLI, no database.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# module prefix -> the only folders whose modules may import it
OWNERS: dict[str, tuple[str, ...]] = {
    "pulumi.automation": ("provisioner/engine/",),
    "boto3": ("provisioner/audit/",),
    "botocore": ("provisioner/audit/",),
    "sqlalchemy": ("provisioner/registry/",),
    "alembic": ("provisioner/registry/",),
}
# file -> (module prefixes, why it may import them anyway)
EXCEPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "provisioner/cli/doctor.py": (
        ("botocore",),
        "resolves the AWS credential chain for `provisioner doctor`; creates no client",
    ),
    "stacks/db_bootstrap/handler.py": (
        ("boto3",),
        "runs inside the tenant's database bootstrap Lambda function, not in the orchestrator:"
        " one Secrets Manager read of the master secret there",
    ),
    "provisioner/engine/backends.py": (
        ("boto3", "botocore"),
        "one read-only S3 ListObjectsV2 on the Pulumi state bucket, with the backend URL's own"
        " profile/endpoint, to tell a never-built stack without the Pulumi CLI",
    ),
}
STACKS_MAY_NOT_IMPORT = (
    "provisioner.registry", "provisioner.cli", "provisioner.engine", "provisioner.api",
    "provisioner.worker", "boto3", "botocore", "typer", "sqlalchemy", "alembic", "fastapi",
)  # fmt: skip


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports, at any depth of its code (lazy imports included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from pulumi import automation`
                yield node.lineno, f"{node.module}.{alias.name}"


def _sources() -> list[Path]:
    return sorted([*(ROOT / "provisioner").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")])


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_each_library_is_imported_only_where_it_belongs() -> None:
    strays = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for line, name in _imports(path):
            for prefix, owners in OWNERS.items():
                allowed = rel.startswith(owners) or prefix in EXCEPTIONS.get(rel, ((), ""))[0]
                if _within(name, prefix) and not allowed:
                    strays.append(f"{rel}:{line} imports {name}")
    assert strays == []


def test_the_stack_program_stays_pure() -> None:
    strays = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "stacks").rglob("*.py"))
        for line, name in _imports(path)
        if any(_within(name, banned) for banned in STACKS_MAY_NOT_IMPORT)
        and not any(_within(name, p) for p in
                    EXCEPTIONS.get(path.relative_to(ROOT).as_posix(), ((), ""))[0])
    ]
    assert strays == []


@pytest.mark.parametrize("module", ["stacks.tenant_stack", "stacks.policy_pack.adapter"])
def test_the_stack_program_loads_none_of_them_indirectly(module: str) -> None:
    """What the stack imports through provisioner's pure modules counts too."""
    probe = (
        f"import sys, {module}; "
        f"print(' '.join(m for m in sys.modules if m.split('.')[0] in {STACKS_MAY_NOT_IMPORT!r}"
        f" or any(m == b or m.startswith(b + '.') for b in {STACKS_MAY_NOT_IMPORT!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.split()
    assert loaded == []


def test_the_walk_finds_lazy_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "def f():\n    import sqlalchemy as sa\n    from pulumi import automation\n"
        "    from boto3.session import Session\n",
        encoding="utf-8",
    )
    names = {name for _, name in _imports(sample)}
    assert {"sqlalchemy", "pulumi.automation", "boto3.session"} <= names
