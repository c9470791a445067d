"""Entry for plain `pulumi up` in stacks/tenant: reads the stack's config, runs the program.

    pulumi config set tenant:slug acme
    pulumi config set tenant:location de
    pulumi config set tenant:plan trial
    pulumi up

Optional: `tenant:zone` places the app server in another zone of the same region;
`tenant:suspended true` stops the service and keeps the data; `tenant:instance-id` and
`tenant:bound` for a warm-pool instance (README, "Warm pools").

The same program the orchestrator runs (stacks.tenant_stack.tenant_program).
"""

import sys
from pathlib import Path

import pulumi

# Run from this directory by the Pulumi CLI: make the repository importable without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stacks.tenant_stack import spec_from_config, tenant_program

config = pulumi.Config("tenant")
spec = spec_from_config(config.get)
tenant_program(
    spec,
    # Set by the engine only when AWS had no capacity in the default zone.
    app_zone=config.get("zone"),
    # Set by the engine while the tenant is suspended: data kept, service stopped.
    suspended=config.get_bool("suspended") or False,
)
