"""The policy gate every deployment passes: `tenants up` and the workers' reconciles alike.

A stack that breaks a published promise is never deployed, unless an operator forces it
(`--force-policy`, logged). The check plans the tenant offline (provisioner.synth) and evaluates
the rules on that plan.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from provisioner.errors import CheckFailed
from provisioner.spec import TenantSpec

log = logging.getLogger("provisioner.policy")
_PLANNING = threading.Lock()


def policy_gate(spec: TenantSpec, force: bool, emit: Any = None, check: Any = None) -> int:
    """Run the security baseline before `up`; refuse on a mandatory failure unless forced.

    `check` defaults to provisioner.policy.check_spec (the offline plan under the mock runtime).
    Returns how many resources the plan has, which sizes the progress bar.
    """
    if check is None:
        from provisioner.policy import check_spec as check

    with _PLANNING:  # Pulumi's mock runtime is not thread-safe; workers run threads
        report = check(spec)
    mandatory = report.mandatory_failures
    if mandatory:
        listed = "; ".join(f"{f.rule_id} ({f.urn}): {f.message}" for f in mandatory)
        if not force:
            raise CheckFailed(
                f"policy check failed for tenant {spec.slug}, nothing was deployed: {listed}"
                " (fix the program, or pass --force-policy to deploy anyway)"
            )
        message = (
            f"--force-policy: deploying tenant {spec.slug} despite {len(mandatory)} failure(s)"
        )
        log.warning("%s: %s", message, listed)
        if emit is not None:
            from provisioner.engine.progress import notice

            emit(notice(f"{message}: {listed}"))
    return int(report.resources_checked)
