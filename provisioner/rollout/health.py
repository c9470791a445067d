"""Health checks a wave runs on each tenant it updated: behind one Protocol, so the driver runs
the real ones (HTTPS probe, live audit) and the simulation its own.

A check returns None when the tenant is healthy, else one line saying why not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HealthTarget:
    slug: str
    location: str
    plan: str
    outputs: dict[str, Any] = field(default_factory=dict)


class HealthCheck(Protocol):
    name: str

    def check(self, target: HealthTarget) -> str | None: ...


class HttpsProbe:
    """The tenant's HTTPS endpoint (stack output `url`) answers 2xx/3xx within the timeout."""

    name = "https"

    def __init__(self, timeout: float = 10.0, get: Callable[..., Any] | None = None) -> None:
        self.timeout = timeout
        self._get = get

    def check(self, target: HealthTarget) -> str | None:
        import httpx

        url = target.outputs.get("url")
        if not isinstance(url, str) or not url.startswith("https://"):
            return f"https: no HTTPS url among the stack outputs of {target.slug}"
        get = self._get or httpx.get
        try:
            response = get(url, timeout=self.timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            return f"https: {url} did not answer within {self.timeout:g}s: {type(exc).__name__}"
        if response.status_code >= 400:
            return f"https: {url} answered {response.status_code}"
        return None


class LiveAudit:
    """The live audit (provisioner.audit) finds no violation on the tenant's resources."""

    name = "audit"

    def __init__(self, audit: Callable[[HealthTarget], Sequence[str]]) -> None:
        self._audit = audit  # slug -> the audit's failed findings, one line each

    def check(self, target: HealthTarget) -> str | None:
        findings = list(self._audit(target))
        if findings:
            return f"audit: {len(findings)} violation(s): {findings[0]}"
        return None


def live_audit_findings(target: HealthTarget) -> list[str]:
    """Run the live audit of one tenant (boto3 clients from the environment's credentials)."""
    from provisioner.audit.clients import Clients
    from provisioner.audit.model import Target
    from provisioner.audit.runner import audit_tenant
    from provisioner.regions import catalogue

    location = catalogue().locations[target.location]
    report = audit_tenant(Clients(), Target(target.slug, location), regions=[location.region])
    return [f"{f.rule}: {f.message}" for f in report.findings]


def run_checks(checks: Sequence[HealthCheck], target: HealthTarget) -> str | None:
    """The first failing check's reason, or None when all pass (an error in a check fails it)."""
    for check in checks:
        try:
            reason = check.check(target)
        except Exception as exc:  # a check that cannot run does not pass
            reason = f"{check.name}: could not run: {type(exc).__name__}: {exc}"
        if reason is not None:
            return " ".join(reason.split())[:500]
    return None


CHECK_NAMES = ("https", "audit")


def checks_from(text: str, timeout: float = 10.0) -> list[HealthCheck]:
    """`--rollout-checks https,audit` to checks; UsageError for an unknown name."""
    from provisioner.errors import UsageError

    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown:
        raise UsageError(
            f"--rollout-checks: unknown check(s) {', '.join(unknown)}: use {', '.join(CHECK_NAMES)}"
        )
    checks: list[HealthCheck] = []
    if "https" in names:
        checks.append(HttpsProbe(timeout))
    if "audit" in names:
        checks.append(LiveAudit(live_audit_findings))
    return checks
