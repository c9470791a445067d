"""The app server's CloudWatch agent: which files go to which of the tenant's log groups.

The configuration is rendered into the user data (templates/user_data.sh.j2), and the instance
role may write to exactly those groups (create streams, put events), nothing else.
- app: the CRM's own log; nginx-access / nginx-error: the TLS front on the server;
- system: /var/log/messages (rsyslog, installed by the user data: Amazon Linux 2023 keeps only
  the journal otherwise);
- ssm-sessions: the SSM agent's log (every Session Manager session opened and closed, with the
  operator's identity) and the sessions' own transcripts.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html
"""

from __future__ import annotations

import json

from provisioner.promises import AGENT_LOG_KINDS, tenant_log_group

AGENT_CONFIG_PATH = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
# kind -> files the agent follows for it
AGENT_FILES: dict[str, tuple[str, ...]] = {
    "app": ("/var/log/crm/app.log",),
    "nginx-access": ("/var/log/nginx/access.log",),
    "nginx-error": ("/var/log/nginx/error.log",),
    "system": ("/var/log/messages", "/var/log/secure"),
    "ssm-sessions": (
        "/var/log/amazon/ssm/amazon-ssm-agent.log",
        "/var/lib/amazon/ssm/*/session/orchestration/**/ipcTempFile.log",
    ),
}
assert set(AGENT_FILES) == set(AGENT_LOG_KINDS), "every agent log kind needs its files"
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def cloudwatch_agent_config(slug: str) -> str:
    """The agent's JSON configuration: every file to its `/tenant/<slug>/<kind>` group.

    Streams are named by instance id, so a replaced server starts a new stream in the same
    group. The agent never creates groups: they exist, encrypted and with retention, in the
    stack (a group the agent created would be unencrypted and kept forever)."""
    collect = [
        {
            "file_path": path,
            "log_group_name": tenant_log_group(slug, kind),
            "log_stream_name": "{instance_id}",
            "retention_in_days": -1,  # retention is the stack's, never the agent's
        }
        for kind in AGENT_LOG_KINDS
        for path in AGENT_FILES[kind]
    ]
    config = {
        "agent": {"run_as_user": "root", "logfile": "/var/log/amazon-cloudwatch-agent.log"},
        "logs": {"logs_collected": {"files": {"collect_list": collect}}},
    }
    return json.dumps(config, indent=2, sort_keys=True)
