"""The database bootstrap function's entry point (AWS Lambda, Python runtime).

Invoked once per database by the tenant stack (`aws.lambda_.Invocation`), from the tenant's
private subnets. It reads the RDS-managed master secret (the only secret its role may read),
connects as the master user over TLS and runs `app_user.ensure`. The master password exists only
in this function's memory for the length of one call: it is never returned, logged or stored,
and the app server's role cannot read the secret at all.

This file runs in AWS, not in the orchestrator: boto3 and the bundled pymysql are available
there; the orchestrator only packages it (stacks/components/db_bootstrap.py).
"""

from __future__ import annotations

import json
import os
import ssl
from typing import Any

from .app_user import AppUser, BootstrapError, ensure

# The RDS certificate authorities (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem),
# packaged beside this file when the repository carries them; see tls_context.
CA_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds-ca-bundle.pem")
CONNECT_TIMEOUT_SECONDS = 10


def tls_context(ca_bundle: str = CA_BUNDLE) -> tuple[ssl.SSLContext, bool]:
    """TLS 1.2+ always (the server requires it too); the server's certificate is verified
    against the RDS CA bundle when the package carries one (the bool says whether)."""
    if os.path.exists(ca_bundle):
        context = ssl.create_default_context(cafile=ca_bundle)
        verified = True
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        verified = False
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context, verified


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    import boto3  # in the Lambda runtime
    import pymysql  # bundled with the function

    user = AppUser(user=str(event.get("user", "")), schema=str(event.get("schema", "")))
    secret_arn = str(event.get("secret_arn", ""))
    if not secret_arn.startswith("arn:"):
        raise BootstrapError("event has no secret_arn")
    client = boto3.client("secretsmanager")
    secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    context, verified = tls_context()
    connection = pymysql.connect(
        host=str(event["host"]), port=int(event.get("port", 3306)),
        user=secret["username"], password=secret["password"], ssl=context,
        connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True,
    )
    del secret
    try:
        with connection.cursor() as cursor:
            result = ensure(cursor, user)
    finally:
        connection.close()
    return {**result, "server_certificate_verified": verified}
