"""Real `pulumi preview` (through the engine) of the tenants the offline plan shows changing.

Only changed and added tenants are previewed (removed ones have nothing to preview against),
at most `concurrency` at once: the engine runs each preview as its own Pulumi CLI process, so
threads here only wait. An environment problem (no credentials, no backend) stops everything
with exit 3; a failure of one tenant's preview is recorded in the report and the rest go on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from provisioner.errors import EnvironmentProblem, ProvisionerError

if TYPE_CHECKING:
    from provisioner.engine import Engine
    from provisioner.spec import TenantSpec

PREVIEWED = ("changed", "added")
_OPS = {"create": "create", "update": "update", "replace": "replace", "delete": "delete",
        "create-replacement": "replace"}


def _summary(changes: dict[str, int]) -> dict[str, int]:
    out = {"create": 0, "update": 0, "replace": 0, "delete": 0}
    for op, n in changes.items():
        if op in _OPS and op != "create-replacement":
            out[_OPS[op]] += n
    return out


def preview_changed(engine: Engine, report: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """slug -> {"changes": {...}, "error": str | None} for every changed or added tenant."""
    from provisioner.spec import TenantSpec

    chosen = [
        (slug, TenantSpec.create(slug, t["location"], t["plan"]))
        for slug, t in sorted(report["tenants"].items())
        if t["status"] in PREVIEWED
    ]

    def one(spec: TenantSpec) -> dict[str, Any]:
        try:
            result = engine.preview(spec)
        except EnvironmentProblem:
            raise
        except ProvisionerError as exc:
            return {"changes": {}, "error": str(exc)}
        return {"changes": _summary(result.changes), "error": None}

    if not chosen:
        return {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(chosen))) as executor:
        futures = {slug: executor.submit(one, spec) for slug, spec in chosen}
        return {slug: future.result() for slug, future in futures.items()}
