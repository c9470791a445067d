"""provisioner: one secure, isolated AWS stack per CRM tenant, planned offline, run by Pulumi."""

__version__ = "0.1.0"
