"""The policy gate every deployment passes: `tenants up` and the workers' reconciles alike.

A stack that breaks a published promise is never deployed, unless an operator forces it
(`--force-policy`, logged). The check plans offline (provisioner.synth) exactly the configuration
the engine is about to apply (a `Deployment`: running or suspended shape, the zone after a
capacity retry, the program version) and evaluates the rules on that plan. The engine calls the
gate before each attempt of an `up`, so a zone retry is checked like the first attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from provisioner.errors import CheckFailed
from provisioner.spec import TenantSpec

log = logging.getLogger("provisioner.policy")
_PLANNING = threading.Lock()


@dataclass(frozen=True)
class Deployment:
    """Exactly what the engine applies to a tenant's stack (engine.settings.stack_config)."""

    spec: TenantSpec
    suspended: bool = False  # tenant:suspended: app server stopped, HTTPS answering 503
    zone: str | None = None  # tenant:zone after a capacity retry; None: the program's default
    program_version: str | None = None  # the version recorded as deployed; None: this checkout's

    def describe(self) -> str:
        shape = "suspended" if self.suspended else "running"
        where = f" in zone {self.zone}" if self.zone else ""
        return f"tenant {self.spec.slug} ({shape}{where})"


def check_deployment(deployment: Deployment) -> Any:
    """Plan `deployment` offline under the mock runtime and evaluate the rules on that plan.

    The plan runs the program in this checkout, which is the one the engine runs (stacks/tenant);
    a deployment announced under another program version is refused rather than checked against
    a program it does not describe."""
    from provisioner.policy import evaluate
    from provisioner.synth import synth_plan
    from stacks.tenant_stack import PROGRAM_VERSION

    wanted = deployment.program_version
    if wanted is not None and wanted != PROGRAM_VERSION:
        raise CheckFailed(
            f"policy check for {deployment.describe()}: program version {wanted} is to be"
            f" deployed but this checkout holds {PROGRAM_VERSION}; run a worker of that version"
        )
    return evaluate(
        synth_plan(deployment.spec, app_zone=deployment.zone, suspended=deployment.suspended)
    )


def policy_gate(
    target: TenantSpec | Deployment,
    force: bool,
    emit: Any = None,
    check: Callable[[Deployment], Any] | None = None,
) -> int:
    """Run the security baseline on `target`; refuse on a mandatory failure unless forced.

    A TenantSpec means its running shape in the program's default zone. `check` defaults to
    check_deployment. Returns how many resources the plan has, which sizes the progress bar.
    """
    deployment = target if isinstance(target, Deployment) else Deployment(target)
    spec = deployment.spec
    with _PLANNING:  # Pulumi's mock runtime is not thread-safe; workers run threads
        report = (check or check_deployment)(deployment)
    mandatory = report.mandatory_failures
    if mandatory:
        listed = "; ".join(f"{f.rule_id} ({f.urn}): {f.message}" for f in mandatory)
        if not force:
            what = "" if deployment == Deployment(spec) else f" as {deployment.describe()}"
            raise CheckFailed(
                f"policy check failed for tenant {spec.slug}{what}, nothing was deployed:"
                f" {listed} (fix the program, or pass --force-policy to deploy anyway)"
            )
        message = (
            f"--force-policy: deploying tenant {spec.slug} despite {len(mandatory)} failure(s)"
        )
        log.warning("%s: %s", message, listed)
        if emit is not None:
            from provisioner.engine.progress import notice

            emit(notice(f"{message}: {listed}"))
    return int(report.resources_checked)


class Gate:
    """The gate as the engine calls it, once per distinct configuration of one operation:
    a lock wait or a pending-operations retry applies the same configuration again and is not
    planned twice; a zone retry is a new configuration and is checked before it runs."""

    def __init__(
        self,
        *,
        force: bool = False,
        emit: Any = None,
        check: Callable[[Deployment], Any] | None = None,
        program_version: str | None = None,
    ) -> None:
        self._force, self._emit, self._check = force, emit, check
        self._program_version = program_version
        self._passed: dict[tuple[str, bool, str | None, str | None], int] = {}

    def __call__(self, deployment: Deployment) -> int:
        if deployment.program_version is None and self._program_version is not None:
            deployment = replace(deployment, program_version=self._program_version)
        key = (
            deployment.spec.slug,
            deployment.suspended,
            deployment.zone,
            deployment.program_version,
        )
        if key not in self._passed:
            self._passed[key] = policy_gate(deployment, self._force, self._emit, self._check)
        return self._passed[key]
