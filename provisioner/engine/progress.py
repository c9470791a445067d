"""Engine events -> progress: a pure mapping, fed by the Automation API's `on_event` callback.

`describe(event)` flattens one `pulumi.automation.events.EngineEvent` into an `EventRecord`
(JSON-ready, the same shape for every kind); `Tracker.observe(record)` folds records into a
`Progress` (resources done / total, the current step, elapsed seconds from the events' own
timestamps, so no clock is read). The CLI renders `Progress` with rich on a terminal and writes
`EventRecord`s as newline-delimited JSON with `--output json`; the worker stores them.

This module reads events by attribute and never imports pulumi, so it loads cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Steps that leave a resource as it was; counted as done but not as a change.
UNCHANGED_OPS = frozenset({"same", "read", "refresh"})


@dataclass(frozen=True)
class EventRecord:
    """One engine (or provisioner) event, flattened."""

    kind: str  # resource-pre, resource-outputs, resource-failed, diagnostic, summary, prelude,
    #            policy, stdout, cancel, notice (provisioner's own: lock wait, zone retry, ...)
    sequence: int = 0  # the engine's sequence number (0 for provisioner notices)
    timestamp: int = 0  # Unix seconds the engine stamped it with (0 if unknown)
    urn: str | None = None
    op: str | None = None  # create, update, delete, replace, same, ...
    resource_type: str | None = None  # aws:ec2/instance:Instance
    severity: str | None = None  # info, warning, error (diagnostics and notices)
    message: str | None = None
    changes: dict[str, int] = field(default_factory=dict)  # summary: op -> count

    @property
    def name(self) -> str | None:
        """The resource's name: the last URN segment."""
        return self.urn.rsplit("::", 1)[-1] if self.urn else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "sequence": self.sequence}
        optional = {
            "timestamp": self.timestamp or None,
            "urn": self.urn,
            "op": self.op,
            "type": self.resource_type,
            "severity": self.severity,
            "message": self.message,
            "changes": dict(sorted(self.changes.items())) or None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return dict(sorted(data.items()))


def notice(message: str, severity: str = "warning") -> EventRecord:
    """A provisioner event in the same stream (lock wait, zone retry, policy override, ...)."""
    return EventRecord(kind="notice", severity=severity, message=message)


def _op(metadata: Any) -> str | None:
    op = getattr(metadata, "op", None)
    return getattr(op, "value", op)


def describe(event: Any) -> EventRecord:
    """Flatten an EngineEvent. Unknown kinds become `kind="other"`, never an exception."""
    base: dict[str, Any] = {
        "sequence": int(getattr(event, "sequence", 0) or 0),
        "timestamp": int(getattr(event, "timestamp", 0) or 0),
    }
    if (pre := getattr(event, "resource_pre_event", None)) is not None:
        md = pre.metadata
        return EventRecord(
            kind="resource-pre", urn=md.urn, op=_op(md), resource_type=md.type, **base
        )
    if (out := getattr(event, "res_outputs_event", None)) is not None:
        md = out.metadata
        return EventRecord(
            kind="resource-outputs", urn=md.urn, op=_op(md), resource_type=md.type, **base
        )
    if (failed := getattr(event, "res_op_failed_event", None)) is not None:
        md = failed.metadata
        return EventRecord(
            kind="resource-failed",
            urn=md.urn,
            op=_op(md),
            resource_type=md.type,
            severity="error",
            **base,
        )
    if (diag := getattr(event, "diagnostic_event", None)) is not None:
        return EventRecord(
            kind="diagnostic",
            urn=diag.urn,
            severity=diag.severity,
            message=(diag.message or "").strip(),
            **base,
        )
    if (summary := getattr(event, "summary_event", None)) is not None:
        changes = {
            str(getattr(op, "value", op)): int(count)
            for op, count in (summary.resource_changes or {}).items()
        }
        return EventRecord(kind="summary", changes=changes, **base)
    if (policy := getattr(event, "policy_event", None)) is not None:
        return EventRecord(
            kind="policy",
            urn=policy.resource_urn,
            severity=policy.enforcement_level,
            message=f"{policy.policy_name}: {policy.message}".strip(),
            **base,
        )
    if getattr(event, "prelude_event", None) is not None:
        return EventRecord(kind="prelude", **base)
    if (stdout := getattr(event, "stdout_event", None)) is not None:
        return EventRecord(kind="stdout", message=(stdout.message or "").strip(), **base)
    if getattr(event, "cancel_event", None) is not None:
        return EventRecord(kind="cancel", **base)
    return EventRecord(kind="other", **base)


@dataclass(frozen=True)
class Progress:
    """Where an operation stands, as a progress display shows it."""

    verb: str  # preview, up, refresh, destroy
    done: int = 0  # resources whose step finished (or failed)
    total: int = 0  # resources seen so far, or the expected count if known and larger
    failed: int = 0
    current: str | None = None  # "create aws:ec2/instance:Instance app"
    elapsed_seconds: int = 0  # from the first event's timestamp to the latest's
    finished: bool = False  # a summary arrived
    changes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": dict(sorted(self.changes.items())),
            "current": self.current,
            "done": self.done,
            "elapsed_seconds": self.elapsed_seconds,
            "failed": self.failed,
            "finished": self.finished,
            "total": self.total,
            "verb": self.verb,
        }


class Tracker:
    """Folds EventRecords into Progress. Pure apart from its own state; one per operation."""

    def __init__(self, verb: str, expected_total: int | None = None) -> None:
        self._expected = expected_total or 0
        self._started: set[str] = set()
        self._finished: set[str] = set()
        self._failed: set[str] = set()
        self._first_ts: int | None = None
        self.progress = Progress(verb=verb, total=self._expected)

    def observe(self, record: EventRecord) -> Progress:
        p = self.progress
        if record.timestamp:
            if self._first_ts is None:
                self._first_ts = record.timestamp
            p = replace(p, elapsed_seconds=max(0, record.timestamp - self._first_ts))
        urn = record.urn
        if record.kind == "resource-pre" and urn:
            self._started.add(urn)
            p = replace(p, current=_step_label(record))
        elif record.kind in ("resource-outputs", "resource-failed") and urn:
            self._started.add(urn)
            self._finished.add(urn)
            if record.kind == "resource-failed":
                self._failed.add(urn)
        elif record.kind == "summary":
            p = replace(p, finished=True, current=None, changes=dict(record.changes))
        p = replace(
            p,
            done=len(self._finished),
            failed=len(self._failed),
            total=max(self._expected, len(self._started)),
        )
        self.progress = p
        return p


def _step_label(record: EventRecord) -> str:
    parts = [record.op or "step", record.resource_type or "", record.name or ""]
    return " ".join(part for part in parts if part)
