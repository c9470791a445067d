"""Entry for plain `pulumi up` in stacks/region: reads the stack's config, runs the program.

    pulumi config set region:location de
    pulumi config set --path 'region:subscriptions[0]' email:ops@example.com
    pulumi up

The same program `provisioner region plan` plans offline (stacks.region.platform).
"""

import sys
from pathlib import Path

import pulumi

# Run from this directory by the Pulumi CLI: make the repository importable without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provisioner.region_spec import RegionSpec
from stacks.region.platform import region_program

config = pulumi.Config("region")
region_program(
    RegionSpec.create(config.require("location"), config.get_object("subscriptions") or [])
)
