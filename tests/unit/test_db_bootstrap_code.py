"""The database bootstrap's own logic: the statements it runs, that running it twice changes
nothing, that a user made by hand is brought back to IAM authentication and TLS, that anything
beyond the app schema's grants stops the deployment, and the Lambda handler end to end against
moto's Secrets Manager (the MySQL side is tests/unit/fake_mysql.py: AWSAuthenticationPlugin
exists only on RDS, so no local server can run these statements)."""

from __future__ import annotations

import copy
import datetime
import json
import ssl
from pathlib import Path
from typing import Any

import boto3
import pytest

from stacks.db_bootstrap import handler as handler_module
from stacks.db_bootstrap.app_user import (
    APP_PRIVILEGES,
    IAM_PLUGIN,
    AppUser,
    BootstrapError,
    ensure,
    grant_problems,
)
from tests.audit.conftest import aws, moto_url  # noqa: F401  (the fixtures, reused)
from tests.unit.fake_mysql import FakeServer

APP = AppUser(user="crm_app", schema="crm")
WHO = "`crm_app`@`%`"


def test_the_statements_are_iam_authenticated_tls_only_and_schema_scoped() -> None:
    auth = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
    assert APP.statements() == [
        f"CREATE USER IF NOT EXISTS 'crm_app'@'%' {auth}",
        f"ALTER USER 'crm_app'@'%' {auth}",
        f"GRANT {', '.join(APP_PRIVILEGES)} ON `crm`.* TO 'crm_app'@'%'",
    ]
    granted = set(APP_PRIVILEGES)
    assert not granted & {"ALL", "ALL PRIVILEGES", "SUPER", "FILE", "PROCESS", "GRANT OPTION",
                          "CREATE USER", "EXECUTE", "RELOAD", "SHUTDOWN"}
    assert "*.*" not in " ".join(APP.statements())


@pytest.mark.parametrize("user, schema", [("crm_app'@'%'; DROP USER x; --", "crm"),
                                          ("crm_app", "crm`.*, mysql.*"), ("", "crm"),
                                          ("Crm", "crm"), ("a" * 33, "crm")])
def test_names_that_are_not_plain_mysql_names_are_refused(user: str, schema: str) -> None:
    with pytest.raises(BootstrapError, match="not a plain MySQL name"):
        AppUser(user=user, schema=schema)


def test_first_run_creates_the_user_and_a_second_changes_nothing() -> None:
    server = FakeServer()
    first = ensure(server.cursor(), APP)
    assert first["created"] is True
    assert server.users[("crm_app", "%")] == {"plugin": IAM_PLUGIN, "ssl_type": "ANY"}
    assert server.grants[("crm_app", "%")] == {"`crm`.*": set(APP_PRIVILEGES)}
    state = copy.deepcopy((server.users, server.grants))
    run_one = list(server.log)
    second = ensure(server.cursor(), APP)
    assert second["created"] is False
    assert second["grants"] == first["grants"]
    assert (server.users, server.grants) == state
    assert server.log[len(run_one):] == run_one  # the same statements, all accepted again


def test_a_user_made_by_hand_with_a_password_is_converged() -> None:
    server = FakeServer()
    server.add_user("crm_app", plugin="caching_sha2_password", ssl_type="")
    result = ensure(server.cursor(), APP)
    assert result["created"] is False
    assert server.users[("crm_app", "%")] == {"plugin": IAM_PLUGIN, "ssl_type": "ANY"}


@pytest.mark.parametrize(
    "target, privileges, option, problem",
    [
        ("*.*", "SUPER", False, "server-wide privileges"),
        ("`mysql`.*", "SELECT", False, "privileges outside `crm`"),
        ("`crm`.*", "EXECUTE", False, "beyond the app's on `crm`: EXECUTE"),
        ("`crm`.*", "SELECT", True, "may grant to others"),
    ],
)
def test_a_user_with_more_than_the_schema_grants_stops_the_deployment(
    target: str, privileges: str, option: bool, problem: str
) -> None:
    server = FakeServer()
    server.add_user("crm_app")
    suffix = " WITH GRANT OPTION" if option else ""
    server.cursor().execute(f"GRANT {privileges} ON {target} TO 'crm_app'@'%'{suffix}")
    with pytest.raises(BootstrapError, match=problem):
        ensure(server.cursor(), APP)


def test_grant_problems_accepts_exactly_usage_and_the_schema() -> None:
    ok = [f"GRANT USAGE ON *.* TO {WHO}", f"GRANT SELECT, INSERT ON `crm`.* TO {WHO}"]
    assert grant_problems(APP, ok) == []
    assert grant_problems(APP, [f"GRANT ALL PRIVILEGES ON `crm`.* TO {WHO}"]) != []
    assert grant_problems(APP, [f"GRANT `rds_superuser_role`@`%` TO {WHO}"]) != []


def test_a_user_without_the_iam_plugin_after_the_statements_is_an_error() -> None:
    class PluginIgnored(FakeServer):  # a server where the plugin is not loaded
        def cursor(self) -> Any:
            cursor = super().cursor()
            original = cursor.execute

            def execute(query: str, args: Any = None) -> int:
                result = original(query, args)
                for row in self.users.values():
                    row["plugin"] = "mysql_native_password"
                return result

            cursor.execute = execute  # type: ignore[method-assign]
            return cursor

    with pytest.raises(BootstrapError, match="authenticates with mysql_native_password"):
        ensure(PluginIgnored().cursor(), APP)


# --- the Lambda handler, against moto's Secrets Manager ----------------------------------------


@pytest.fixture
def master_secret(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:  # noqa: F811
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")  # the handler's client's region
    client = boto3.client("secretsmanager")
    created = client.create_secret(
        Name=f"rds!db-{tmp_path.name}",
        SecretString=json.dumps({"username": "crm_admin", "password": "s3cr3t-master-pw"}),
    )
    return str(created["ARN"])


class _Connection:
    def __init__(self, server: FakeServer) -> None:
        self.server, self.closed = server, False

    def cursor(self) -> Any:
        return self.server.cursor()

    def close(self) -> None:
        self.closed = True


def test_the_handler_reads_the_master_secret_connects_over_tls_and_returns_no_secret(
    master_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pymysql

    server, seen = FakeServer(), {}
    connection = _Connection(server)

    def connect(**kwargs: Any) -> _Connection:
        seen.update(kwargs)
        return connection

    monkeypatch.setattr(pymysql, "connect", connect)
    event = {"host": "t-acme-db.example", "port": 3306, "secret_arn": master_secret,
             "user": "crm_app", "schema": "crm"}
    result = handler_module.handler(event, None)
    assert (seen["user"], seen["password"]) == ("crm_admin", "s3cr3t-master-pw")
    assert isinstance(seen["ssl"], ssl.SSLContext)
    assert seen["ssl"].minimum_version == ssl.TLSVersion.TLSv1_2
    assert connection.closed
    assert result["created"] is True and result["user"] == "crm_app"
    assert result["server_certificate_verified"] is False  # no CA bundle in the repository
    assert "s3cr3t-master-pw" not in json.dumps(result)
    assert server.users[("crm_app", "%")]["plugin"] == IAM_PLUGIN


def test_the_handler_refuses_an_event_without_a_secret() -> None:
    with pytest.raises(BootstrapError, match="no secret_arn"):
        handler_module.handler({"host": "h", "user": "crm_app", "schema": "crm"}, None)


def test_a_packaged_ca_bundle_makes_the_connection_verify_the_server(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test RDS root")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    bundle = tmp_path / "rds-ca-bundle.pem"
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context, verified = handler_module.tls_context(str(bundle))
    assert verified and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    unverified, flag = handler_module.tls_context(str(tmp_path / "absent.pem"))
    assert not flag and unverified.minimum_version == ssl.TLSVersion.TLSv1_2
