"""The app server: IMDSv2, no public IP, encrypted disks, SSM not SSH, a least-privilege role."""

from __future__ import annotations

import json
import re

import pytest

from provisioner.errors import UsageError
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan
from tests.stack.conftest import Plan

INSTANCE = "aws:ec2/instance:Instance"


def test_imdsv2_is_required(planned: Plan) -> None:
    options = planned.one(INSTANCE)["inputs"]["metadataOptions"]
    assert options["httpTokens"] == "required"
    assert options["httpPutResponseHopLimit"] == 1


def test_app_server_has_no_public_ip(planned: Plan) -> None:
    assert planned.one(INSTANCE)["inputs"]["associatePublicIpAddress"] is False


def test_root_volume_is_encrypted_with_the_tenant_key(planned: Plan) -> None:
    root = planned.one(INSTANCE)["inputs"]["rootBlockDevice"]
    assert root["encrypted"] is True
    assert root["kmsKeyId"] == planned.tenant_key_arn


def test_data_volume_is_encrypted_with_the_tenant_key_and_attached(planned: Plan) -> None:
    volume = planned.one("aws:ebs/volume:Volume")
    assert volume["inputs"]["encrypted"] is True
    assert volume["inputs"]["kmsKeyId"] == planned.tenant_key_arn
    attachment = planned.one("aws:ec2/volumeAttachment:VolumeAttachment")
    assert attachment["inputs"]["volumeId"] == planned.id(volume)
    assert attachment["inputs"]["instanceId"] == planned.id(planned.one(INSTANCE))


def test_access_is_through_ssm_with_no_ssh_key(planned: Plan) -> None:
    assert "keyName" not in planned.one(INSTANCE)["inputs"]
    attachments = planned.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert any(
        a["inputs"]["policyArn"].endswith("AmazonSSMManagedInstanceCore") for a in attachments
    )


def test_instance_role_reads_only_its_own_secret_and_uses_only_its_own_key(planned: Plan) -> None:
    policy = json.loads(planned.one("aws:iam/rolePolicy:RolePolicy", "own-secret-and-key")
                        ["inputs"]["policy"])  # fmt: skip
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    region, account = planned.spec.region, planned.account
    assert resources["OwnKey"] == planned.tenant_key_arn
    assert resources["OwnDatabaseSecret"].startswith(
        f"arn:aws:secretsmanager:{region}:{account}:secret:rds!"
    )
    assert all(s["Effect"] == "Allow" and "*" not in s["Resource"] for s in policy["Statement"])


def test_user_data_is_rendered_from_the_template_without_secrets(planned: Plan) -> None:
    user_data = planned.one(INSTANCE)["inputs"]["userData"]
    assert f"CRM_TENANT={planned.spec.slug}" in user_data
    assert f"bootstrap for tenant {planned.spec.slug}" in user_data
    assert "CRM_DB_TLS=required" in user_data
    assert re.search(r"pass(word)?\s*[=:]", user_data, re.IGNORECASE) is None
    assert "[secret]" not in user_data


def test_app_server_and_data_volume_move_to_the_requested_zone_of_the_same_region() -> None:
    spec = TenantSpec.create("acme", "de", "trial")
    second = spec.location.zones[1]
    plan = Plan(spec, synth_plan(spec, app_zone=second))
    volume = plan.one("aws:ebs/volume:Volume")
    assert volume["inputs"]["availabilityZone"] == second
    subnet_id = plan.one(INSTANCE)["inputs"]["subnetId"]
    subnet = next(s for s in plan.of_type("aws:ec2/subnet:Subnet") if plan.id(s) == subnet_id)
    assert subnet["inputs"]["availabilityZone"] == second
    assert subnet["inputs"]["tags"]["tier"] == "private"


def test_a_zone_of_another_region_is_refused() -> None:
    spec = TenantSpec.create("acme", "de", "trial")
    with pytest.raises(UsageError, match="not one of de's zones"):
        synth_plan(spec, app_zone="eu-west-1a")
