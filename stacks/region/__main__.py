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
subscriptions = config.get_object("subscriptions")
region_program(  # without subscriptions in the stack's config, regions.yaml's `alerts`
    RegionSpec.create(config.require("location"), subscriptions) if subscriptions
    else RegionSpec.configured(config.require("location"))
)
