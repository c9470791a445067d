"""Releases from a real git repository (a throwaway copy of the tenant program): `release
create`, the danger gate of `rollout start` through the fleet planner, and a release's program
materialised by commit, verified against its recorded hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import EnvironmentProblem
from provisioner.fleet.gitrepo import Repository
from provisioner.registry import Registry
from provisioner.registry.releases import get_release
from provisioner.registry.rollouts import record_outcome
from provisioner.rollout.program import ReleaseProgram
from provisioner.spec import TenantSpec
from tests.fleet.conftest import commit, edit, make_repo

DB_NAME = "stacks/components/observability.py"  # where the database identifier is derived


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_release_create_rollout_danger_gate_and_materialised_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("PROVISIONER_RELEASE_REPO", str(repo))
    code, out, err = _cli("release", "create", "--repo", str(repo), "--notes", "base", "-o", "json")
    assert code == 0, err
    first = json.loads(out)
    assert first["created"] is True and len(first["commit"]) == 40
    again = json.loads(_cli("release", "create", "--repo", str(repo), "-o", "json")[1])
    assert again["id"] == first["id"] and again["created"] is False  # same program, same release
    edit(repo / DB_NAME, 'return f"{spec.resource_prefix}-db"',
         'return f"{spec.resource_prefix}-database"')
    commit(repo, "rename the database: forces its replacement")
    second = json.loads(_cli("release", "create", "--repo", str(repo), "-o", "json")[1])
    assert second["id"] != first["id"] and second["program_hash"] != first["program_hash"]
    code, _, err = _cli("release", "create", "--repo", str(repo), "--ref", "no-such-ref")
    assert code == 3 and "unknown git ref" in err

    with Registry.open() as registry:
        for slug, loc, plan in (("acme", "de", "standard"), ("kilo", "us", "trial")):
            registry.create_tenant(TenantSpec.create(slug, loc, plan), actor="test")
            with registry.write() as conn:  # as a worker records a successful apply of r1
                record_outcome(conn, slug, first["id"], None, datetime.now(UTC))
        release = get_release(registry, second["id"])

    code, _, err = _cli("rollout", "start", str(second["id"]), "-o", "json")
    assert code == 1 and "dangerous change" in err and "--approve-dangerous" in err
    assert json.loads(_cli("rollout", "status", "-o", "json")[1]) == []
    code, out, err = _cli("rollout", "start", str(second["id"]), "--approve-dangerous",
                          "reviewed: empty test database", "-o", "json")
    assert code == 0, err
    started = json.loads(out)
    assert started["dangerous_reason"] == "reviewed: empty test database"
    groups = next(w for w in started["waves"] if w["name"] == "groups")
    assert groups["tenants"] == 2  # de/standard and us/trial change differently

    program = ReleaseProgram(release.id, release.commit, release.program_hash)
    root = program.root(cache=tmp_path / "releases")
    assert root.name == release.program_hash
    assert 'f"{spec.resource_prefix}-database"' in (root / DB_NAME).read_text()
    assert (root / "stacks" / "tenant" / "Pulumi.yaml").is_file()
    assert program.root(cache=tmp_path / "releases") == root  # kept: a key never goes stale
    forged = ReleaseProgram(release.id, release.commit, "0" * 64)
    with pytest.raises(EnvironmentProblem, match="not the recorded"):
        forged.root(cache=tmp_path / "releases", repo=Repository(repo))
    assert not (tmp_path / "releases" / ("0" * 64)).exists()


class InnerEngine:
    """Stands in for provisioner.engine.Engine (no Pulumi CLI here): records what it ran."""

    def __init__(self) -> None:
        from provisioner.paths import TENANT_PROGRAM_DIR

        self.program_dir = TENANT_PROGRAM_DIR
        self.ran: list[tuple[str, Path]] = []

    def up(self, spec: TenantSpec, gate: Any) -> str:
        """Calls the gate as provisioner.engine.Engine does, before it would apply anything."""
        from provisioner.policy.gate import Deployment

        gate(Deployment(spec))
        self.ran.append((spec.slug, self.program_dir))
        return "up"


def test_the_real_engine_applies_a_release_behind_the_releases_own_policy_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.errors import CheckFailed
    from provisioner.fleet.cache import planner_environment
    from provisioner.fleet.gitrepo import program_hash
    from provisioner.rollout.release_engine import ReleasePulumiEngine

    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("PROVISIONER_RELEASE_REPO", str(repo))

    def program(ref: str) -> ReleaseProgram:
        repository = Repository(repo)
        revision = repository.resolve(ref)
        digest = program_hash(repository.revision_blobs(revision), planner_environment())
        return ReleaseProgram(1, revision.commit, digest)

    good = program("HEAD")
    edit(repo / "provisioner/promises.py",
         'TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"',
         'TLS_POLICY = "ELBSecurityPolicy-2016-08"')
    commit(repo, "weaken the TLS policy")
    weak = program("HEAD")
    inner = InnerEngine()
    engine = ReleasePulumiEngine(inner)
    spec = TenantSpec.create("acme", "de", "standard")
    assert engine.up_release(spec, good) == "up"
    assert inner.ran == [("acme", good.root() / "stacks" / "tenant")]
    with pytest.raises(CheckFailed, match="nothing was deployed"):
        engine.up_release(spec, weak)  # this checkout's rules pass; the release's plan fails
    assert len(inner.ran) == 1
