"""Fleet plan tests: a temporary git repository holding a copy of the tenant program.

One pristine repository per module (the program files of this checkout plus a tenants file,
committed once); each test clones it, changes something, and runs `provisioner fleet plan`.
The plan cache is shared within a module, so the unchanged base program is planned once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.paths import PROJECT_ROOT

PROGRAM = ("provisioner", "stacks", "templates", "regions.yaml")
TENANTS = """\
tenants:
  - {slug: acme, location: de, plan: standard}
  - {slug: beta, location: de, plan: standard}
  - {slug: delta, location: de, plan: standard}
  - {slug: epsilon-long, location: de, plan: standard}
  - {slug: gamma, location: us, plan: trial}
"""
GIT = ["git", "-c", "user.name=fleet test", "-c", "user.email=fleet@test.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    # These tests stage everything (`add -A`, `commit -a`): only ever in their own repositories.
    assert PROJECT_ROOT.resolve() not in [repo.resolve(), *repo.resolve().parents], repo
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def copy_program(dest: Path, skip: tuple[str, ...] = ()) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROGRAM:
        src = PROJECT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    for rel in skip:
        target = dest / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def make_repo(path: Path, tenants: str = TENANTS, skip: tuple[str, ...] = ()) -> Path:
    path.mkdir(parents=True)
    copy_program(path, skip)
    (path / "tenants.yaml").write_text(tenants)
    git(path, "init", "-q")
    git(path, "add", "-A")  # a throwaway repository of our own, never the project checkout
    git(path, "commit", "-q", "-m", "base")
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("fleet-pristine") / "repo")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fleet-cache")


@pytest.fixture
def repo(pristine: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "repo"
    subprocess.run([*GIT, "clone", "-q", str(pristine), str(clone)], check=True)
    return clone


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-q", "-a", "-m", message)  # -a in a throwaway test repository only


Run = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def run_fleet(cache_dir: Path) -> Run:
    """Run `provisioner fleet plan` in-process: (exit code, parsed JSON or markdown, stderr)."""

    def run(repo: Path, *args: str, output: str = "json", base: str = "HEAD") -> tuple:
        runner = CliRunner()
        result = runner.invoke(
            app,
            ["fleet", "plan", "--base", base, "--repo", str(repo), "--cache-dir",
             str(cache_dir), "--jobs", "2", "-o", output, *args],
        )
        body: Any = result.stdout
        if output == "json" and result.exit_code in (0, 4, 5, 1):
            body = json.loads(result.stdout)
        return result.exit_code, body, result.stderr

    return run
