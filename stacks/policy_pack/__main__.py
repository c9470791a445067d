"""Entry point Pulumi runs for `--policy-pack stacks/policy_pack`: serve the baseline's rules.

Everything but the `PolicyPack(...)` call (which starts a gRPC server and never returns) lives
in `stacks.policy_pack.adapter`, so tests import the policies without serving them.
"""

import sys
from pathlib import Path

# Pulumi starts the pack with this directory as the working directory; make the repository root
# importable even when the project is not installed in the virtualenv.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import EnforcementLevel, PolicyPack

from stacks.policy_pack.adapter import PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
)
