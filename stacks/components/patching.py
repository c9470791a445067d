"""Patching the app server's operating system: baseline, weekly window, daily compliance scan.

- The **patch baseline** (Amazon Linux 2023) approves security updates of any severity after
  the plan's `patch_approval_days` and critical ones at once; it is registered for the tenant's
  patch group, which the app server joins by its `PatchGroup` tag.
- The **maintenance window** installs them weekly (AWS-RunPatchBaseline, Operation=Install,
  reboot if needed) at night in the location's time zone. Its slot (day and hour) comes from a
  hash of the instance id (the slug for a tenant created directly: a stable identity), so a
  region's tenants spread over 28 slots instead of rebooting together.
- The **association** scans daily (Operation=Scan), so patch compliance is reported every day
  and the live audit reads it (SSM compliance summary per instance).
https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart
from stacks.windows import WINDOW_DAYS as WINDOW_DAYS  # the slots, for readers of this module
from stacks.windows import WINDOW_START_HOURS as WINDOW_START_HOURS
from stacks.windows import patch_schedule

RUN_PATCH_BASELINE = "AWS-RunPatchBaseline"
PATCH_GROUP_TAG = "PatchGroup"
WINDOW_HOURS, WINDOW_CUTOFF_HOURS = 3, 1
SCAN_SCHEDULE = "rate(1 day)"
# The time zone the window's hours are in, per location (IANA names, which SSM accepts).
LOCAL_TIME_ZONES = {
    "us": "America/New_York", "uk": "Europe/London", "ie": "Europe/Dublin",
    "de": "Europe/Berlin", "au": "Australia/Sydney", "sg": "Asia/Singapore",
    "jp": "Asia/Tokyo", "in": "Asia/Kolkata",
}  # fmt: skip


def patch_group(spec: TenantSpec) -> str:
    return f"tenant-{spec.instance_id}"


def window_schedule(instance_id: str) -> str:
    """The tenant's weekly slot: stable for an instance id, spread evenly over 7 days x 4 hours."""
    return patch_schedule(instance_id)


class Patching(TenantPart):
    """Patch baseline and group, maintenance window (target and task), daily scan."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        instance_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Patching", name, spec, opts)
        prefix = f"t-{spec.instance_id}"
        security: aws.ssm.PatchBaselineApprovalRulePatchFilterArgsDict = {
            "key": "CLASSIFICATION", "values": ["Security"]}
        self.baseline = aws.ssm.PatchBaseline(
            f"{name}-baseline",
            name=f"{prefix}-baseline",
            description=f"Tenant {spec.instance_id}: security updates",
            operating_system="AMAZON_LINUX_2023",
            approval_rules=[
                {
                    "approve_after_days": 0,
                    "compliance_level": "CRITICAL",
                    "patch_filters": [security, {"key": "SEVERITY", "values": ["Critical"]}],
                },
                {
                    "approve_after_days": spec.plan.patch_approval_days,
                    "compliance_level": "HIGH",
                    "patch_filters": [
                        security,
                        {"key": "SEVERITY", "values": ["Important", "Medium", "Low"]},
                    ],
                },
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        aws.ssm.PatchGroup(
            f"{name}-group",
            baseline_id=self.baseline.id,
            patch_group=patch_group(spec),
            region=self.region,
            opts=self.child(),
        )
        self.window = aws.ssm.MaintenanceWindow(
            f"{name}-window",
            name=f"{prefix}-patching",
            description=f"Tenant {spec.instance_id}: weekly patching",
            schedule=window_schedule(spec.instance_id),
            schedule_timezone=LOCAL_TIME_ZONES.get(spec.location.code, "UTC"),
            duration=WINDOW_HOURS,
            cutoff=WINDOW_CUTOFF_HOURS,
            allow_unassociated_targets=False,
            enabled=True,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        target = aws.ssm.MaintenanceWindowTarget(
            f"{name}-window-target",
            window_id=self.window.id,
            resource_type="INSTANCE",
            targets=[{"key": "InstanceIds", "values": [instance_id]}],
            region=self.region,
            opts=self.child(),
        )
        aws.ssm.MaintenanceWindowTask(
            f"{name}-install",
            window_id=self.window.id,
            task_type="RUN_COMMAND",
            task_arn=RUN_PATCH_BASELINE,
            priority=1,
            max_concurrency="1",
            max_errors="0",
            targets=[{"key": "WindowTargetIds", "values": [target.id]}],
            task_invocation_parameters={
                "run_command_parameters": {
                    "timeout_seconds": 3600,
                    "parameters": [
                        {"name": "Operation", "values": ["Install"]},
                        {"name": "RebootOption", "values": ["RebootIfNeeded"]},
                    ],
                }
            },
            region=self.region,
            opts=self.child(),
        )
        aws.ssm.Association(
            f"{name}-scan",
            name=RUN_PATCH_BASELINE,
            association_name=f"{prefix}-patch-scan",
            targets=[{"key": "InstanceIds", "values": [instance_id]}],
            parameters={"Operation": "Scan"},
            schedule_expression=SCAN_SCHEDULE,
            compliance_severity="CRITICAL",
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        self.register_outputs({"maintenance_window": self.window.name})
