"""Grants: resource and trust policies give nothing to everyone or to another account.

A key policy, bucket policy or role trust policy is where one tenant could be opened to another
(or to the world) without any network path: an `Allow` to `*`, or to another AWS account. The
only foreign account a tenant's policies may name is Elastic Load Balancing's log-delivery
account of the tenant's region (regions.yaml `elb_account_id`), which writes the access logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.errors import Undetermined
from provisioner.policy.graph import Graph, Resource, Unknown, as_list
from provisioner.policy.model import Rule, Severity, Violation

# Resource-based and trust policies, by the input that holds the document.
POLICY_INPUTS: dict[str, str] = {
    "aws:kms/key:Key": "policy",
    "aws:kms/replicaKey:ReplicaKey": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:backup/vaultPolicy:VaultPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
}
# Condition keys that pin a `*` principal to one account or resource.
SCOPING_CONDITION_KEYS = frozenset(
    k.lower() for k in ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner",
                        "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID",
                        "kms:CallerAccount")
)
_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
_ACCOUNT = re.compile(r"^\d{12}$")


def _account_of(value: str) -> str | None:
    if _ACCOUNT.match(value):
        return value
    m = _ACCOUNT_IN_ARN.match(value)
    return m.group(1) if m else None


def own_accounts(g: Graph) -> set[str]:
    """Accounts the tenant's resources live in: those of ARN references that resolve to a
    resource of this plan (a foreign key or vault ARN resolves to nothing)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            account = _account_of(value)
            if account and value.startswith("arn:") and g.referents(value):
                found.add(account)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for res in g.data_resources():
        walk(res.inputs)
    return found


def _elb_account(g: Graph) -> str | None:
    from provisioner.regions import catalogue

    location = catalogue().locations.get(str(g.tenant.get("location", "")))
    return location.elb_account_id if location else None


def _scoped(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    keys = {str(k).lower() for block in condition.values() if isinstance(block, Mapping)
            for k in block}
    return bool(keys & SCOPING_CONDITION_KEYS)


def _statement_problems(statement: Mapping[str, Any], allowed: set[str]) -> Iterator[str]:
    if statement.get("Effect") != "Allow":
        return
    sid = statement.get("Sid") or "a statement"
    if "NotPrincipal" in statement:
        yield f"{sid} allows NotPrincipal (everyone but someone)"
        return
    principal = statement.get("Principal")
    if principal is None:
        return  # identity policies have no principal; not a grant to anyone else
    everyone = principal == "*" or (
        isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")))
    if everyone:
        if not _scoped(statement):
            yield f"{sid} allows everyone ('*') without an account condition"
        return
    if not isinstance(principal, Mapping):
        yield f"{sid} has an unreadable principal {principal!r}"
        return
    if principal.get("Federated"):
        yield f"{sid} trusts a federated identity provider"
    for value in as_list(principal.get("AWS")):
        account = _account_of(str(value))
        if account is None or account not in allowed:
            yield f"{sid} grants AWS principal {value!r} of another account"


def _document(res: Resource, field: str) -> Any:
    raw = res.inputs.get(field)
    if isinstance(raw, Unknown):
        raise Undetermined(f"{res.name}.{field} is not known yet", resource=res.name, field=field)
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str) or not raw.strip() or raw == "[secret]":
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return "unreadable"


def check_grants(g: Graph) -> Iterator[Violation]:
    allowed = own_accounts(g)
    elb = _elb_account(g)
    if elb:
        allowed.add(elb)
    for res in g.data_resources():
        field = POLICY_INPUTS.get(res.type)
        if field is None:
            continue
        doc = _document(res, field)
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            yield Violation(res.urn, f"{res.name}.{field} is not a readable policy document")
            continue
        for statement in as_list(doc.get("Statement")):
            if not isinstance(statement, Mapping):
                yield Violation(res.urn, f"{res.name}.{field} has an unreadable statement")
                continue
            for problem in _statement_problems(statement, allowed):
                yield Violation(res.urn, f"{res.name}.{field}: {problem}")


RULES = (
    Rule("ISO-002", "Key, bucket and trust policies grant nothing to everyone or to another"
                    " account (but ELB's log delivery)", "isolation", Severity.mandatory,
         check_grants),
)
