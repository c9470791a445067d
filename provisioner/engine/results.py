"""What engine operations return: plain typed values, no Pulumi objects (the worker stores them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.engine.progress import UNCHANGED_OPS


@dataclass(frozen=True)
class StackOutput:
    """One stack output; secrets are flagged so renderers can mask them."""

    value: Any
    secret: bool

    def shown(self) -> Any:
        return "[secret]" if self.secret else self.value


@dataclass(frozen=True)
class OperationResult:
    """The outcome of preview, up, refresh or destroy on one tenant's stack."""

    verb: str  # preview, up, refresh, destroy
    stack: str  # tenant-<slug>
    backend: str  # the backend URL
    changes: dict[str, int]  # op -> count, as the engine summarised it ("same" included)
    duration_seconds: float  # measured around the whole operation, retries included
    outputs: dict[str, StackOutput] = field(default_factory=dict)  # up only
    attempts: int = 1  # 1 + lock waits + zone retries + pending-operation recoveries
    zone: str | None = None  # the zone set after a capacity retry, else None
    notices: tuple[str, ...] = ()  # what the engine decided on its own (waits, retries, ...)

    @property
    def change_count(self) -> int:
        """Resources created, updated, replaced or deleted."""
        return sum(n for op, n in self.changes.items() if op not in UNCHANGED_OPS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "backend": self.backend,
            "change_count": self.change_count,
            "changes": dict(sorted(self.changes.items())),
            "duration_seconds": round(self.duration_seconds, 3),
            "notices": list(self.notices),
            "outputs": {k: v.shown() for k, v in sorted(self.outputs.items())},
            "stack": self.stack,
            "verb": self.verb,
            "zone": self.zone,
        }


# Distinct names for the worker's type hints; one shape underneath.
PreviewResult = OperationResult
UpResult = OperationResult
RefreshResult = OperationResult
DestroyResult = OperationResult


@dataclass(frozen=True)
class PendingOperation:
    """An operation a crashed update left in the state (pulumi/pulumi#5377)."""

    urn: str
    type: str  # creating, updating, deleting, reading, importing

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "urn": self.urn}


@dataclass(frozen=True)
class RecoveryResult:
    """What `Engine.recover` cleared, and where the state was backed up first."""

    stack: str
    cleared: tuple[PendingOperation, ...]
    backup: str | None  # path of the exported deployment saved before refreshing, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "cleared": [op.to_dict() for op in self.cleared],
            "stack": self.stack,
        }
