"""The live audit: the one place in provisioner that creates boto3 clients.

    clients.py     Clients (a session per thread, standard retries, region per call,
                   AWS_ENDPOINT_URL honoured by boto3) and aws_errors() mapping botocore's
                   environment failures to EnvironmentProblem (exit 3)
    discovery.py   a tenant's resources by tag (Resource Groups Tagging API) + backup plans
    runner.py      audit_tenant(): the checks below on the live resources -> Report
    checks_*.py    storage (EBS, RDS, log groups), lb (listeners, HSTS, redirects), backup
    deletion.py    prove_deletion(): nothing of a deleted tenant remains -> Proof (evidence)
    backups.py     list recovery points and snapshots, start on-demand backups
    restore.py     restore a database (point in time or snapshot) and volumes; restore drills
    batch.py       many tenants at once (`audit --all`) and which proofs become evidence

Every finding names the rule, the promise (provisioner.promises.PROMISES) and the ARN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioner.audit.clients import Clients


def default_clients() -> Clients:
    """The client factory commands use (tests replace it to attach Stubbers for AWS Backup)."""
    from provisioner.audit.clients import Clients

    return Clients()
