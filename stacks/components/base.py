"""What every part of the tenant stack shares: the spec, its tags and the effective region.

Every regional resource is given `region=` explicitly (pulumi-aws 7's per-resource region), so
the region each resource lands in is visible in the plan and checked by the policy rules; global
services (IAM, Route 53) take none.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from provisioner.spec import TenantSpec

TYPE_PREFIX = "provisioner:tenant"


class TenantPart(pulumi.ComponentResource):
    """A component of one tenant's stack."""

    def __init__(
        self, kind: str, name: str, spec: TenantSpec, opts: pulumi.ResourceOptions | None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:{kind}", name, None, opts)
        self.spec = spec

    @property
    def region(self) -> str:
        return self.spec.region

    def tags(self, **extra: str) -> dict[str, str]:
        """The tenant's tags, plus a `Name` or role where it helps an operator."""
        return {**self.spec.tags(), **extra}

    def child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child resource of this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service (e.g. `ec2.amazonaws.com`) assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )
