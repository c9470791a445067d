"""The real engine for recorded releases: `up` with a release's own program (its checkout, see
`program`) behind the same policy gate as every deployment, the release's own rules run on the
release's own offline plan (its `provisioner check`, in a subprocess started in its checkout).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provisioner.errors import CheckFailed, EnvironmentProblem
from provisioner.fleet.pool import subprocess_env
from provisioner.policy.gate import Deployment, Gate
from provisioner.policy.model import Finding, PolicyReport, Severity
from provisioner.rollout.program import ReleaseProgram
from provisioner.spec import TenantSpec
from provisioner.worker import PulumiStackEngine

CHECK_TIMEOUT_SECONDS = 600


def release_check(root: Path) -> Callable[[Deployment], PolicyReport]:
    """A policy check (for the Gate) that plans and checks with the release's own code.

    The release's `provisioner check` plans the running shape in the default zone, so only that
    configuration is checked; another one (a capacity retry's zone) is refused rather than
    deployed unchecked, and the worker retries the update later."""

    def check(deployment: Deployment) -> PolicyReport:
        spec = deployment.spec
        if deployment.suspended or deployment.zone is not None:
            raise CheckFailed(
                f"policy check for {deployment.describe()}: a release's own check covers only the"
                " running shape in the default zone; nothing was deployed"
            )
        env = {**subprocess_env(), "PYTHONPATH": str(root)}
        done = subprocess.run(
            [sys.executable, "-m", "provisioner", "check", spec.slug, "--location",
             spec.location.code, "--plan", spec.plan.name, "-o", "json"],
            cwd=root, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT_SECONDS,
        )
        try:
            data = json.loads(done.stdout)
        except ValueError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(
                f"the release's policy check could not run for {spec.slug}: {last}"
            ) from None
        failures = tuple(
            Finding(f["rule_id"], Severity(f["severity"]), f["urn"], f["message"], f["title"])
            for f in data["failures"]
        )
        return PolicyReport(
            tenant=data["tenant"],
            rules_checked=(),
            failures=failures,
            resources_checked=int(data["summary"]["resources_checked"]),
        )

    return check


class ReleasePulumiEngine(PulumiStackEngine):
    """PulumiStackEngine that can also apply a recorded release (apply.ReleaseEngine)."""

    def up_release(self, spec: TenantSpec, program: ReleaseProgram) -> Any:
        root = program.root()
        engine = copy.copy(self._engine)
        engine.program_dir = root / "stacks" / "tenant"
        # The release's own rules on exactly what each attempt applies (zone retries included).
        return engine.up(spec, gate=Gate(check=release_check(root)))
