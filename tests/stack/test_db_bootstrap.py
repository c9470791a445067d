"""The database bootstrap in the planned stack: a function in the tenant's private subnets,
invoked once per database with no secret in its event, whose role reads exactly the database's
master secret; nothing else reads it, nothing reaches the function."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from provisioner.spec import TenantSpec
from provisioner.synth import asset_digest, synth_plan
from stacks.components.database import APP_DB_USER, APP_SCHEMA
from stacks.components.db_bootstrap import HANDLER, function_code
from stacks.components.network import DB_PORT, PRIVATE_CIDRS
from tests.stack.conftest import Plan

FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SG = "aws:ec2/securityGroup:SecurityGroup"
DB = "aws:rds/instance:Instance"


def _master_secret(planned: Plan) -> str:
    db = planned.one(DB)
    return (f"arn:aws:secretsmanager:{db['region']}:{planned.account}:secret:"
            f"rds!{db['name']}-id")


def _statements(res: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(res["inputs"]["policy"])["Statement"]}


def test_the_function_runs_in_the_private_subnets_behind_its_own_group(planned: Plan) -> None:
    function = planned.one(FUNCTION, "db-bootstrap-function")["inputs"]
    private = {f"network-private-{i}-id" for i in range(2)}
    assert set(function["vpcConfig"]["subnetIds"]) == private
    assert function["vpcConfig"]["securityGroupIds"] == ["network-bootstrap-sg-id"]
    assert function["handler"] == HANDLER
    assert function["kmsKeyArn"] == planned.tenant_key_arn
    own_group = f"/tenant/{planned.spec.instance_id}/db-bootstrap"
    assert function["loggingConfig"]["logGroup"] == own_group
    logs = planned.one("aws:cloudwatch/logGroup:LogGroup", "db-bootstrap-logs")["inputs"]
    assert logs["kmsKeyId"] == planned.tenant_key_arn
    group = planned.one(SG, "bootstrap-sg")["inputs"]
    assert group["ingress"] == []
    assert sorted((e["fromPort"], tuple(e["cidrBlocks"])) for e in group["egress"]) == [
        (443.0, ("0.0.0.0/0",)), (float(DB_PORT), PRIVATE_CIDRS)]
    db_ingress = planned.one(SG, "db-sg")["inputs"]["ingress"]
    assert {tuple(e["securityGroups"]) for e in db_ingress} == {
        ("network-app-sg-id",), ("network-bootstrap-sg-id",)}


def test_the_invocation_names_the_database_and_the_secret_never_its_value(planned: Plan
                                                                          ) -> None:
    run = planned.one(INVOCATION, "db-bootstrap-run")["inputs"]
    event = json.loads(run["input"])
    assert event == {"host": planned.one(DB)["inputs"]["identifier"]
                     + f".{planned.spec.region}.rds.example", "port": DB_PORT,
                     "secret_arn": _master_secret(planned), "user": APP_DB_USER,
                     "schema": APP_SCHEMA}
    assert run["functionName"] == planned.one(FUNCTION)["inputs"]["name"]
    # A replaced database (new resource id) or new code runs it again.
    assert run["triggers"] == {"database": "db-database-instance-id",
                               "code": function_code()[1]}
    function = planned.one(FUNCTION)["inputs"]
    assert "environment" not in function  # nothing handed over but the event
    assert "password" not in run["input"].lower()


def test_only_the_bootstrap_role_reads_a_secret_and_only_the_master_one(planned: Plan) -> None:
    readers = {}
    for res in planned.of_type(ROLE_POLICY):
        for statement in json.loads(res["inputs"]["policy"])["Statement"]:
            if "secretsmanager:GetSecretValue" in statement["Action"]:
                readers[res["name"]] = statement["Resource"]
    assert readers == {"db-bootstrap-policy": [_master_secret(planned)]}
    grants = _statements(planned.one(ROLE_POLICY, "db-bootstrap-policy"))
    assert grants["DecryptMasterSecret"]["Condition"] == {"StringEquals": {
        "kms:ViaService": f"secretsmanager.{planned.spec.region}.amazonaws.com"}}
    assert all(s["Resource"] != "*" for sid, s in grants.items() if sid != "DescribeNetwork")
    assert grants["DescribeNetwork"]["Action"] == ["ec2:DescribeNetworkInterfaces",
                                                   "ec2:DescribeSubnets"]
    key = json.loads(planned.tenant_key["inputs"]["policy"])
    users = next(s for s in key["Statement"] if s["Sid"] == "TenantRolesUseThroughServices")
    role = f"arn:aws:iam::{planned.account}:role/tenant-{planned.spec.instance_id}-db-bootstrap"
    assert role in users["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert not planned.of_type("aws:lambda/permission:Permission")
    assert not planned.of_type("aws:lambda/functionUrl:FunctionUrl")


def test_the_code_is_recorded_by_digest_and_ships_the_driver() -> None:
    files, code_hash = function_code()
    assert {"db_bootstrap/handler.py", "db_bootstrap/app_user.py", "db_bootstrap/__init__.py",
            "pymysql/__init__.py", "pymysql/connections.py"} <= set(files)
    import pulumi

    archive = pulumi.AssetArchive({n: pulumi.StringAsset(t) for n, t in files.items()})
    plan = synth_plan(TenantSpec.create("acme", "de", "trial"))
    function = next(r for r in plan["resources"] if r["type"] == FUNCTION)
    assert function["inputs"]["code"] == asset_digest(archive)
    assert function["inputs"]["sourceCodeHash"] == code_hash
    changed = dict(files, **{"db_bootstrap/app_user.py": files["db_bootstrap/app_user.py"] + "#"})
    other = pulumi.AssetArchive({n: pulumi.StringAsset(t) for n, t in changed.items()})
    assert asset_digest(other) != asset_digest(archive)


def test_a_pooled_instance_names_its_bootstrap_by_instance_id() -> None:
    spec = TenantSpec.for_pool("pool-ab12cd", TenantSpec.create("x-y", "de", "trial").location,
                               TenantSpec.create("x-y", "de", "trial").plan).bind("acme")
    plan = synth_plan(spec)
    function = next(r for r in plan["resources"] if r["type"] == FUNCTION)["inputs"]
    assert function["name"] == "t-pool-ab12cd-db-bootstrap"
    assert "acme" not in function["role"] and "pool-ab12cd" in function["role"]


def test_the_rds_ca_bundle_ships_with_the_function_and_the_plan_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's way to enable certificate checking (put the RDS CA bundle beside the
    handler) must reach the function's package, change its digest (so every tenant's bootstrap
    runs again, now verifying) and show in the plan."""
    from stacks.components import db_bootstrap
    from stacks.db_bootstrap import handler

    assert Path(handler.CA_BUNDLE).name == db_bootstrap.CA_BUNDLE_FILE  # the file it looks for
    without, without_hash = function_code()
    assert f"db_bootstrap/{db_bootstrap.CA_BUNDLE_FILE}" not in without
    assert "NOT verified" in db_bootstrap.function_description(
        TenantSpec.create("acme", "de", "trial"), without)
    code_dir = tmp_path / "db_bootstrap"
    shutil.copytree(db_bootstrap.CODE_DIR, code_dir,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pem"))
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (code_dir / db_bootstrap.CA_BUNDLE_FILE).write_text(pem)
    monkeypatch.setattr(db_bootstrap, "CODE_DIR", code_dir)
    function_code.cache_clear()
    try:
        files, code_hash = function_code()
        assert files[f"db_bootstrap/{db_bootstrap.CA_BUNDLE_FILE}"] == pem
        assert code_hash != without_hash
        plan = synth_plan(TenantSpec.create("acme", "de", "trial"))
        function = next(r for r in plan["resources"] if r["type"] == FUNCTION)
        assert "server certificate verified" in function["inputs"]["description"]
        assert function["inputs"]["sourceCodeHash"] == code_hash
    finally:
        function_code.cache_clear()

