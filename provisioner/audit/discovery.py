"""Finding a tenant's resources on the live account by their `tenant` tag.

The Resource Groups Tagging API answers for most services in one paginated call per region.
Two gaps are filled by per-service calls:
- S3 is global: GetResources may list a bucket from any region, so each bucket's real region
  comes from GetBucketLocation.
- AWS Backup plans are read with ListBackupPlans + ListTags (not every implementation lists
  plans in the tagging API).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from provisioner.audit.clients import Clients, is_not_found


@dataclass(frozen=True, order=True)
class Tagged:
    """One resource the tagging API returned."""

    arn: str
    region: str  # where it really lives (for S3: the bucket's location)
    tags: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def service(self) -> str:
        return self.arn.split(":")[2]

    @property
    def kind(self) -> str:
        """`service:type`, e.g. `ec2:volume`, `rds:db`, `elasticloadbalancing:loadbalancer`."""
        resource = self.arn.split(":", 5)[5]
        if self.service == "s3":
            return "s3:bucket"
        # Resource types end at the first ':' (rds, logs, backup) or '/' (ec2, kms, elbv2).
        head = re.split(r"[:/]", resource, maxsplit=1)[0]
        return f"{self.service}:{head}"

    @property
    def resource_id(self) -> str:
        """The last element of the ARN: a volume id, a DB identifier, a bucket name."""
        resource = self.arn.split(":", 5)[5]
        if self.service in {"rds", "logs", "secretsmanager", "backup"}:
            parts = resource.split(":")
            return parts[1] if len(parts) > 1 else parts[0]
        return resource.rsplit("/", 1)[-1]


GLOBAL = "global"  # region of resources of global services (they hold no tenant data)


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def account_id(clients: Clients, region: str) -> str:
    return str(clients.client("sts", region).get_caller_identity()["Account"])


def enabled_regions(clients: Clients, region: str) -> list[str]:
    """Regions enabled on the account (opted-in or not requiring opt-in)."""
    answer = clients.client("ec2", region).describe_regions(AllRegions=False)
    return sorted(r["RegionName"] for r in answer["Regions"])


class Discovery:
    """Tag lookups for one tenant, cached per region (bucket locations cached per bucket)."""

    def __init__(self, clients: Clients, slug: str, home_region: str = "us-east-1") -> None:
        self.clients = clients
        self.slug = slug
        self.home_region = home_region
        self._bucket_region = functools.lru_cache(maxsize=None)(self._lookup_bucket_region)

    def _lookup_bucket_region(self, bucket: str) -> str:
        # GetBucketLocation answers from any region; ask the tenant's own.
        s3 = self.clients.client("s3", self.home_region)
        try:
            constraint = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except Exception as exc:  # a bucket deleted between the two calls
            if is_not_found(exc):
                return ""
            raise
        # us-east-1 answers None; the legacy "EU" means eu-west-1.
        return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)

    def tagged(self, region: str) -> list[Tagged]:
        """Every resource in `region` tagged `tenant=<slug>`, sorted by ARN."""
        api = self.clients.client("resourcegroupstaggingapi", region)
        found: list[Tagged] = []
        for page in api.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": "tenant", "Values": [self.slug]}]
        ):
            for item in page.get("ResourceTagMappingList", []):
                arn = item["ResourceARN"]
                tags = tuple(sorted((t["Key"], t["Value"]) for t in item.get("Tags", [])))
                where = arn_region(arn) or GLOBAL  # IAM, Route 53, CloudFront: no region
                if arn.startswith("arn:aws:s3:::") or ":s3:::" in arn:
                    where = self._bucket_region(arn.rsplit(":", 1)[-1])
                    if where != region:
                        continue  # listed here only because S3 is global; its region owns it
                found.append(Tagged(arn=arn, region=where or region, tags=tags))
        return sorted(found)

    def backup_plans(self, region: str) -> list[str]:
        """ARNs of AWS Backup plans in `region` tagged for the tenant."""
        backup = self.clients.client("backup", region)
        arns: list[str] = []
        for page in backup.get_paginator("list_backup_plans").paginate():
            for plan in page.get("BackupPlansList", []):
                tags = backup.list_tags(ResourceArn=plan["BackupPlanArn"]).get("Tags", {})
                if tags.get("tenant") == self.slug:
                    arns.append(plan["BackupPlanArn"])
        return sorted(arns)


def of_kind(resources: Iterable[Tagged], kind: str) -> list[Tagged]:
    return sorted(r for r in resources if r.kind == kind)
