"""The app server: IMDSv2, no public IP, encrypted disks, SSM not SSH, a least-privilege role."""

from __future__ import annotations

import json
import re

import pytest

from provisioner.errors import UsageError
from provisioner.promises import AGENT_LOG_KINDS, TLS12_CIPHERS, TLS13_CIPHERSUITES
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


def test_access_is_through_ssm_with_no_ssh_key_and_no_managed_policy(planned: Plan) -> None:
    assert "keyName" not in planned.one(INSTANCE)["inputs"]
    role = planned.one("aws:iam/role:Role", "compute-role")
    attachments = [a for a in planned.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if a["parent"] == role["parent"]]
    assert attachments == [], "AmazonSSMManagedInstanceCore grants ssm:GetParameter on *"


def _role_statements(planned: Plan) -> dict[str, dict]:
    out = {}
    for policy in planned.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy["name"].startswith("compute-"):
            out.update({s["Sid"]: s for s in json.loads(policy["inputs"]["policy"])["Statement"]})
    return out


def test_instance_role_is_limited_to_the_tenants_own_resources(planned: Plan) -> None:
    statements = _role_statements(planned)
    region, account, slug = planned.spec.region, planned.account, planned.spec.slug
    assert statements["OwnKey"]["Resource"] == [planned.tenant_key_arn]
    groups = [f"arn:aws:logs:{region}:{account}:log-group:/tenant/{slug}/{kind}"
              for kind in AGENT_LOG_KINDS]
    assert statements["OwnLogGroups"]["Resource"] == sorted(
        [*groups, *(f"{g}:log-stream:*" for g in groups)])
    assert statements["OwnParameters"]["Resource"] == [
        f"arn:aws:ssm:{region}:{account}:parameter/tenant/{slug}/*"]
    connect = statements["OwnDatabaseAsAppUser"]
    assert connect["Action"] == ["rds-db:connect"]
    assert connect["Resource"][0].endswith("/crm_app")
    assert statements["SsmAgentOwnInstance"]["Resource"] == [
        planned.arn(planned.one(INSTANCE))]
    for sid, statement in statements.items():
        assert statement["Effect"] == "Allow"
        assert "*" not in statement["Action"]
        if sid != "SsmChannels":
            assert "*" not in statement["Resource"], sid
        assert not any(a.startswith("secretsmanager:") for a in statement["Action"])
    assert all(a.startswith(("ssmmessages:", "ec2messages:"))
               for a in statements["SsmChannels"]["Action"])


def test_ssm_sessions_are_logged_to_the_tenants_encrypted_log_group(planned: Plan) -> None:
    document = planned.one("aws:ssm/document:Document")
    assert document["inputs"]["documentType"] == "Session"
    content = json.loads(document["inputs"]["content"])["inputs"]
    assert content["cloudWatchLogGroupName"] == f"/tenant/{planned.spec.slug}/ssm-sessions"
    assert content["cloudWatchEncryptionEnabled"] is True
    assert content["kmsKeyId"] == planned.tenant_key_arn
    group = next(g for g in planned.of_type("aws:cloudwatch/logGroup:LogGroup")
                 if g["inputs"]["name"] == content["cloudWatchLogGroupName"])
    assert group["inputs"]["kmsKeyId"] == planned.tenant_key_arn


def test_nginx_offers_only_the_load_balancers_forward_secret_suites(planned: Plan) -> None:
    user_data = planned.one(INSTANCE)["inputs"]["userData"]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in user_data
    ciphers = re.search(r"ssl_ciphers ([^;]+);", user_data)
    assert ciphers and set(ciphers.group(1).split(":")) == set(TLS12_CIPHERS)
    assert all(c.startswith("ECDHE-") and "GCM" in c for c in TLS12_CIPHERS)
    suites = re.search(r"ssl_conf_command Ciphersuites ([^;]+);", user_data)
    assert suites and set(suites.group(1).split(":")) == set(TLS13_CIPHERSUITES)
    assert "ssl_session_tickets off;" in user_data


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
