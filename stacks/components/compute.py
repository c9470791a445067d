"""The app server: private, IMDSv2 only, encrypted disks, reached through SSM (no SSH key).

Its role is least privilege, with no AWS managed policy (`AmazonSSMManagedInstanceCore` allows
`ssm:GetParameter` on every parameter of the account):
- the SSM agent's calls on this instance only, documents to read, and its own parameters
  (`/tenant/<slug>/...`); the only `Resource: "*"` grants are the `ssmmessages:` and
  `ec2messages:` channel actions, which support no resource-level permissions (AWS Service
  Authorization Reference) and carry no data of their own;
- write to its own log groups only (`/tenant/<slug>/*`, where every log group of the tenant's
  app server lives);
- connect to its own database as the app user through IAM authentication (`rds-db:connect`);
  it cannot read the master secret, which only the platform uses;
- decrypt with its own key (SSM session encryption).
SSM sessions use a session document of the tenant's own that streams every session to the
tenant's encrypted `ssm-sessions` log group.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jinja2
import pulumi
import pulumi_aws as aws

from provisioner.paths import TEMPLATES_DIR
from provisioner.promises import AGENT_LOG_KINDS, HSTS_HEADER, TLS12_CIPHERS, TLS13_CIPHERSUITES
from provisioner.spec import TenantSpec
from stacks.components.agent import cloudwatch_agent_config
from stacks.components.app_config import parameter_name
from stacks.components.base import TenantPart, assume_role_policy
from stacks.components.database import APP_DB_USER, app_user_arn
from stacks.components.keys import app_role_name
from stacks.components.network import APP_PORT
from stacks.components.observability import tenant_log_group_name
from stacks.components.patching import PATCH_GROUP_TAG, patch_group

# Actions of the SSM agent's message channels: no resource-level permissions exist for them.
SSM_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
)  # fmt: skip
# What the agent does about its own instance (registration, associations, inventory, patching).
SSM_INSTANCE_ACTIONS = (
    "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations",
    "ssm:UpdateInstanceAssociationStatus", "ssm:PutInventory", "ssm:PutComplianceItems",
    "ssm:GetDeployablePatchSnapshotForInstance",
)  # fmt: skip
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
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
        tls12_ciphers=":".join(TLS12_CIPHERS),
        tls13_ciphersuites=":".join(TLS13_CIPHERSUITES),
        cloudwatch_agent_config=cloudwatch_agent_config(spec.instance_id),
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
        db_resource_id: pulumi.Input[str],
        account_id: pulumi.Input[str],
        log_group_name: pulumi.Input[str],
        session_log_group_name: pulumi.Input[str],
        hostname: str,
        suspended: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Compute", name, spec, opts)
        region = self.region
        role = aws.iam.Role(
            f"{name}-role",
            name=app_role_name(spec),
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        self.role = role  # other parts grant it what they need (agent log writes)
        aws.iam.RolePolicy(
            f"{name}-own-resources",
            role=role.id,
            policy=pulumi.Output.all(account_id, key_arn, db_resource_id).apply(
                lambda v: _own_resources_policy(spec, account=v[0], key_arn=v[1],
                                                db_resource_id=v[2])
            ),
            opts=self.child(),
        )  # fmt: skip
        self.session_document = aws.ssm.Document(
            f"{name}-sessions",
            name=f"tenant-{spec.instance_id}-sessions",
            document_type="Session",
            document_format="JSON",
            content=pulumi.Output.all(session_log_group_name, key_arn).apply(
                lambda v: _session_document(log_group=v[0], key_arn=v[1])
            ),
            region=region,
            tags=self.tags(),
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
        user_data = pulumi.Output.all(db_host, log_group_name).apply(
            lambda v: render_user_data(
                spec, hostname, db_host=v[0], db_user=APP_DB_USER, log_group=v[1]
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
            # PatchGroup: the patch baseline that applies (stacks/components/patching.py).
            tags=self.tags(Name=f"tenant-{spec.slug}-app", **{PATCH_GROUP_TAG: patch_group(spec)}),
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
        # The agent's calls about its own instance: granted once the instance (its ARN) exists.
        aws.iam.RolePolicy(
            f"{name}-ssm-agent",
            role=role.id,
            policy=self.instance.arn.apply(_ssm_agent_policy),
            opts=self.child(),
        )
        self.register_outputs({"instance_id": self.instance.id})


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}


def _own_resources_policy(
    spec: TenantSpec, account: str, key_arn: str, db_resource_id: str
) -> str:
    """The app server's grants that exist before the instance does."""
    region = spec.region
    # Exactly the groups the CloudWatch agent writes (stacks/components/agent.py), no others.
    groups = [f"arn:aws:logs:{region}:{account}:log-group:{tenant_log_group_name(spec, kind)}"
              for kind in AGENT_LOG_KINDS]
    streams = [f"{group}:log-stream:*" for group in groups]
    statements = [
        _statement("OwnLogGroups", LOG_WRITE_ACTIONS, sorted([*groups, *streams])),
        _statement("OwnParameters", ("ssm:GetParameter", "ssm:GetParameters"),
                   [f"arn:aws:ssm:{region}:{account}:parameter/tenant/{spec.instance_id}/*"]),
        _statement("SsmDocuments", ("ssm:GetDocument", "ssm:DescribeDocument"),
                   [f"arn:aws:ssm:{region}::document/*",
                    f"arn:aws:ssm:{region}:{account}:document/tenant-{spec.instance_id}-*"]),
        _statement("OwnDatabaseAsAppUser", ("rds-db:connect",),
                   [app_user_arn(region, account, db_resource_id)]),
        _statement("OwnKey", ("kms:Decrypt", "kms:GenerateDataKey"), [key_arn]),
        _statement("SsmChannels", SSM_CHANNEL_ACTIONS, ["*"]),
    ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def _ssm_agent_policy(instance_arn: str) -> str:
    statement = _statement("SsmAgentOwnInstance", SSM_INSTANCE_ACTIONS, [instance_arn])
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def _session_document(log_group: str, key_arn: str) -> str:
    """Session Manager preferences: every session streamed to the tenant's encrypted log group
    and encrypted end to end with the tenant key."""
    return json.dumps(
        {
            "schemaVersion": "1.0",
            "description": "Tenant SSM sessions, logged and encrypted",
            "sessionType": "Standard_Stream",
            "inputs": {
                "cloudWatchLogGroupName": log_group,
                "cloudWatchEncryptionEnabled": True,
                "cloudWatchStreamingEnabled": True,
                "kmsKeyId": key_arn,
                "runAsEnabled": False,
                "idleSessionTimeout": "20",
            },
        },
        sort_keys=True,
    )
