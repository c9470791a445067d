"""The product's published security promises, and the constants that make them checkable.

One place for both the offline policy rules (provisioner.policy) and the live audit
(provisioner.audit), so a plan and a running account are held to the same numbers.
"""

from __future__ import annotations

# In transit. Forward-secret only, TLS 1.2 and 1.3 only (AWS's ELB security policy table):
# the TLS13-1-2-Res family keeps AES-GCM ECDHE suites; "-Ext" variants add RSA key exchange and
# the plain TLS13-1-2-2021-06 adds CBC suites. The API default is still ELBSecurityPolicy-2016-08.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
ALLOWED_TLS_POLICIES: frozenset[str] = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    }
)
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"  # what the tenant stack sets
# The same suites on the app server (nginx), as OpenSSL names them: what TLS_POLICY offers
# (AWS's ELB security policy table): ECDHE key exchange, AEAD ciphers only.
TLS12_CIPHERS: tuple[str, ...] = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
)
TLS13_CIPHERSUITES: tuple[str, ...] = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)
# Mail client access (IMAPS, POP3S, SMTPS): implicit TLS only. Their plaintext ports must never
# have a listener.
MAIL_TLS_PORTS: tuple[int, ...] = (993, 995, 465)
MAIL_PLAINTEXT_PORTS: tuple[int, ...] = (25, 110, 143, 587)

HSTS_MIN_MAX_AGE_SECONDS = 31_536_000  # one year
HSTS_HEADER = "max-age=63072000; includeSubDomains; preload"  # two years, what the stack sets

# Backups.
BACKUP_SCHEDULE = "cron(0 3 ? * * *)"  # daily at 03:00 UTC
RESTORE_OBJECTIVE_SECONDS = 8 * 3600  # a restore must be possible within 8 hours

# Logging, monitoring and patching.
ALERT_TOPIC_NAME = "provisioner-alerts"  # the regional platform stack's SNS topic, one per region
# Log groups the app server's CloudWatch agent writes, as /tenant/<slug>/<kind>.
AGENT_LOG_KINDS: tuple[str, ...] = ("app", "nginx-access", "nginx-error", "system", "ssm-sessions")
# The tenant's alarms, named t-<slug>-<what>; the app's are off while the tenant is suspended.
APP_ALARMS: tuple[str, ...] = ("lb-5xx-rate", "unhealthy-targets", "server-system-status",
                               "server-instance-status")
TENANT_ALARMS: tuple[str, ...] = (*APP_ALARMS, "db-cpu", "db-free-storage", "db-free-memory",
                                  "db-connections", "certificate-expiry")
SYSTEM_STATUS_ALARM = "server-system-status"  # the one that recovers the server
# Security logs (kept at least plans.SECURITY_LOG_RETENTION_DAYS): /tenant/<slug>/<kind> groups
# and the database's exported logs of these names.
SECURITY_TENANT_LOGS: tuple[str, ...] = ("vpc-flow-logs", "ssm-sessions")
SECURITY_DB_LOGS: tuple[str, ...] = ("audit",)
DB_AUDIT_PLUGIN = "MARIADB_AUDIT_PLUGIN"  # RDS for MySQL's audit log, through an option group
DB_AUDIT_EVENTS: tuple[str, ...] = ("CONNECT", "QUERY_DDL", "QUERY_DCL")
MAX_LONG_QUERY_SECONDS = 10.0  # a slow-query threshold above this records almost nothing
MAX_PATCH_APPROVAL_DAYS = 7  # security updates installed at most a week after release
BACKUP_JOB_MAX_AGE_HOURS = 26  # the daily job plus its start window and a margin


def alert_topic_arn(region: str, account: str) -> str:
    """The regional alert topic every tenant alarm of `region` notifies."""
    return f"arn:aws:sns:{region}:{account}:{ALERT_TOPIC_NAME}"


def ec2_recover_action(region: str) -> str:
    """CloudWatch's alarm action that moves an instance to healthy hardware."""
    return f"arn:aws:automate:{region}:ec2:recover"


def tenant_log_group(slug: str, kind: str) -> str:
    return f"/tenant/{slug}/{kind}"


# Tags every taggable resource carries.
REQUIRED_TAGS: tuple[str, ...] = ("tenant", "location", "plan", "managed-by")

PROMISES: dict[str, str] = {
    "isolation": (
        "Every tenant has its own network, keys, database, volumes and load balancer; nothing of"
        " one tenant is reachable from another's."
    ),
    "in-transit": (
        "TLS 1.2/1.3 only, forward-secret ciphers only, HSTS on all web traffic, HTTP only"
        " redirects to HTTPS; database connections require TLS."
    ),
    "at-rest": (
        "Disks, database, backups, logs and secrets are encrypted with AES-256 under a KMS key of"
        " the tenant's own."
    ),
    "backups": (
        "Databases and files are backed up daily and copied to a separate vault inside the same"
        " jurisdiction; a restore is possible within 8 hours."
    ),
    "logging": (
        "Load balancer access logs, network flow logs and database logs are kept and encrypted."
    ),
    "monitoring": (
        "Event, audit, failure, administrator and operator logs are recorded, analysed for"
        " anomalies and stored securely; infrastructure and applications are monitored around"
        " the clock."
    ),
    "patching": "Security patches are deployed as they become available.",
    "residency": (
        "A tenant's data stays in the region chosen at signup and its backup destination in the"
        " same jurisdiction."
    ),
    "tagging": (
        "Every tenant resource is tagged with its tenant, location, plan and manager, so it can be"
        " found, audited and deleted."
    ),
}


def hsts_is_strong(header: str | None) -> bool:
    """True when an HSTS header value has max-age >= one year and includeSubDomains."""
    if not header:
        return False
    max_age = None
    include_subdomains = False
    for part in header.split(";"):
        token = part.strip()
        if token.lower().startswith("max-age="):
            try:
                max_age = int(token.split("=", 1)[1].strip().strip('"'))
            except ValueError:
                return False
        elif token.lower() == "includesubdomains":
            include_subdomains = True
    return max_age is not None and max_age >= HSTS_MIN_MAX_AGE_SECONDS and include_subdomains
