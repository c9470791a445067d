"""The app server: private, IMDSv2 only, encrypted disks, reached through SSM (no SSH key).

Its role can read only the tenant's own database secret and use only the tenant's own key.
"""

from __future__ import annotations

import json

import jinja2
import pulumi
import pulumi_aws as aws

from provisioner.paths import TEMPLATES_DIR
from provisioner.promises import HSTS_HEADER
from provisioner.spec import TenantSpec
from stacks.components.app_config import parameter_name
from stacks.components.base import TenantPart, assume_role_policy
from stacks.components.network import APP_PORT

SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
DATA_DEVICE = "xvdf"
ROOT_VOLUME_GIB = 30
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # a shell script, not HTML
)


def render_user_data(spec: TenantSpec, hostname: str, **values: str) -> str:
    """The app server's bootstrap script, from templates/user_data.sh.j2."""
    return _TEMPLATES.get_template("user_data.sh.j2").render(
        slug=spec.instance_id,
        location=spec.location.code,
        plan=spec.plan.name,
        region=spec.region,
        hostname=hostname,
        app_port=APP_PORT,
        data_device=DATA_DEVICE,
        hsts=HSTS_HEADER,
        # A pooled instance reads its customer from this parameter (stacks.components.app_config).
        config_parameter=parameter_name(spec) if spec.pooled else "",
        **values,
    )


class Compute(TenantPart):
    """Instance role and profile, the app server, and its data volume."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        key_arn: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        availability_zone: str,
        security_group_id: pulumi.Input[str],
        db_host: pulumi.Input[str],
        db_secret_arn: pulumi.Input[str],
        log_group_name: pulumi.Input[str],
        hostname: str,
        suspended: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Compute", name, spec, opts)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        self.role = role
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm", role=role.name, policy_arn=SSM_MANAGED_POLICY, opts=self.child()
        )
        aws.iam.RolePolicy(
            f"{name}-own-secret-and-key",
            role=role.id,
            policy=pulumi.Output.all(db_secret_arn, key_arn).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "OwnDatabaseSecret",
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": arns[0],
                            },
                            {
                                "Sid": "OwnKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                "Resource": arns[1],
                            },
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=self.child(),
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-profile", role=role.name, tags=self.tags(), opts=self.child()
        )
        image = aws.ec2.get_ami_output(
            most_recent=True,
            owners=["amazon"],
            filters=[
                {"name": "name", "values": ["al2023-ami-2023.*-x86_64"]},
                {"name": "architecture", "values": ["x86_64"]},
            ],
            region=self.region,
        )
        user_data = pulumi.Output.all(db_host, db_secret_arn, log_group_name).apply(
            lambda v: render_user_data(
                spec, hostname, db_host=v[0], db_secret_arn=v[1], log_group=v[2]
            )
        )
        self.instance = aws.ec2.Instance(
            f"{name}-server",
            ami=image.id,
            instance_type=spec.plan.instance_type,
            subnet_id=subnet_id,
            vpc_security_group_ids=[security_group_id],
            associate_public_ip_address=False,
            iam_instance_profile=profile.name,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",  # IMDSv2 only
                "http_put_response_hop_limit": 1,
            },
            root_block_device={
                "encrypted": True,
                "kms_key_id": key_arn,
                "volume_size": ROOT_VOLUME_GIB,
                "volume_type": "gp3",
                "delete_on_termination": True,
                # Not `volume_tags`: that would also claim the separately attached data volume.
                "tags": self.tags(Name=f"tenant-{spec.slug}-root"),
            },
            monitoring=True,
            user_data=user_data,
            user_data_replace_on_change=False,
            region=self.region,
            tags=self.tags(Name=f"tenant-{spec.slug}-app"),
            opts=self.child(),
        )
        self.data_volume = aws.ebs.Volume(
            f"{name}-data",
            availability_zone=availability_zone,
            size=spec.plan.data_volume_gib,
            type="gp3",
            encrypted=True,
            kms_key_id=key_arn,
            region=self.region,
            tags=self.tags(Name=f"tenant-{spec.slug}-data"),
            opts=self.child(),
        )
        aws.ec2.VolumeAttachment(
            f"{name}-data-attachment",
            device_name=f"/dev/{DATA_DEVICE}",
            instance_id=self.instance.id,
            volume_id=self.data_volume.id,
            region=self.region,
            opts=self.child(),
        )
        # Always present, so suspending and resuming are updates of one resource. (pulumi-aws
        # files this EC2 resource under ec2transitgateway.)
        aws.ec2transitgateway.InstanceState(
            f"{name}-power",
            instance_id=self.instance.id,
            state="stopped" if suspended else "running",
            region=self.region,
            opts=self.child(),
        )
        self.register_outputs({"instance_id": self.instance.id})
