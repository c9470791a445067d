"""The engine: create, update, preview, refresh and destroy tenant stacks (Pulumi Automation API).

The only package that imports `pulumi.automation`, and only inside `runner` functions, so
importing this package (and the CLI) stays fast. Typed API for the CLI and the worker:

    engine = Engine(backend="s3://bucket/prefix", secrets_provider="awskms://alias/x?region=...")
    result = engine.up(spec, on_event=lambda record, progress: ...)   # -> UpResult
    engine.preview(spec); engine.refresh(spec); engine.destroy(spec); engine.outputs(spec)
    engine.cancel(spec); engine.recover(spec)

Every failure is one of provisioner.errors' types (see the tree there); `classify` maps the CLI's
output to them and is a pure function.
"""

from provisioner.engine.classify import classify
from provisioner.engine.progress import EventRecord, Progress, Tracker, describe, notice
from provisioner.engine.pulumi_cli import MIN_CLI_VERSION, PulumiCli, require_cli
from provisioner.engine.recovery import LockWait, backoff_delays, next_zone, pending_operations
from provisioner.engine.results import (
    DestroyResult,
    OperationResult,
    PendingOperation,
    PreviewResult,
    RecoveryResult,
    RefreshResult,
    StackOutput,
    UpResult,
)
from provisioner.engine.runner import Engine, OnEvent
from provisioner.engine.settings import Backend, EngineSettings, stack_config, workspace_env

__all__ = [
    "MIN_CLI_VERSION",
    "Backend",
    "DestroyResult",
    "Engine",
    "EngineSettings",
    "EventRecord",
    "LockWait",
    "OnEvent",
    "OperationResult",
    "PendingOperation",
    "PreviewResult",
    "Progress",
    "PulumiCli",
    "RecoveryResult",
    "RefreshResult",
    "StackOutput",
    "Tracker",
    "UpResult",
    "backoff_delays",
    "classify",
    "describe",
    "next_zone",
    "notice",
    "pending_operations",
    "require_cli",
    "stack_config",
    "workspace_env",
]
