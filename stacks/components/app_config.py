"""The app's configuration for a pooled instance: who its customer is, in an SSM parameter.

A tenant created directly learns its slug and hostname from its user data. A pooled instance is
built before its customer exists, and changing an instance's user data means stopping it, so the
app reads its slug and hostname from this parameter instead (named after the instance id, never
the slug). Binding the instance to a customer updates the value, nothing else. The value names no
secret: a plain `String` parameter.

Binding also carries the **admin invitation**: the address the signup gave for the customer's
first admin. The app invites it once (an admin with that address exists: nothing to do), with a
one-time sign-in link it creates and keeps itself, so no token or password is ever in the
parameter, the plan, the stack's outputs or the registry's events.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart


def parameter_name(spec: TenantSpec) -> str:
    return f"/tenant/{spec.instance_id}/app-config"


def config_value(spec: TenantSpec, hostname: str, mail_hostname: str | None = None) -> str:
    """What the app is told: its customer once bound, only its instance id before."""
    value: dict[str, object] = {"instance_id": spec.instance_id, "bound": spec.bound}
    if spec.bound:
        value.update(slug=spec.slug, hostname=hostname)
        if mail_hostname is not None:
            value.update(mail_hostname=mail_hostname)  # what the app tells mail clients
        if spec.admin_email:
            value.update(admin_invitation={"email": spec.admin_email})
    return json.dumps(value, sort_keys=True)


class AppConfig(TenantPart):
    """The parameter, and the app server's permission to read it (and nothing else in SSM)."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        hostname: str,
        app_role_id: pulumi.Input[str],
        mail_hostname: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("AppConfig", name, spec, opts)
        self.parameter = aws.ssm.Parameter(
            f"{name}-parameter",
            name=parameter_name(spec),
            type="String",
            insecure_value=config_value(spec, hostname, mail_hostname),  # no secret: in plans
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{name}-read",
            role=app_role_id,
            policy=self.parameter.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "OwnAppConfig",
                                "Effect": "Allow",
                                "Action": "ssm:GetParameter",
                                "Resource": arn,
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=self.child(),
        )
        self.register_outputs({"parameter": self.parameter.name})
