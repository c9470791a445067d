"""Whether a tenant's stack exists in the state backend, answered without the Pulumi CLI.

The DIY backends (a local directory, an S3 bucket) keep a stack's checkpoint as a file named
`<stack>.json` (`<stack>.json.gz` when compressed) under `.pulumi/stacks/`, in a folder per
project in current layouts and directly there in older ones (pulumi/pulumi pkg/backend/diy).
A checkpoint by that name anywhere under `.pulumi/stacks/` counts as the stack existing: the
check only ever answers "no stack" when nothing could be one, because that answer lets a
tenant's deletion complete (a trial whose build failed never had a stack to destroy).

The S3 half is the one place outside `provisioner/audit/` that makes a boto3 client: it owns a
single read-only call, S3 ListObjectsV2 on the backend's bucket and prefix. The backend URL's
`region`, `endpoint` and `profile` parameters are honoured as the Pulumi CLI honours them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from provisioner.engine.settings import Backend
from provisioner.errors import CredentialsMissing, EnvironmentProblem

STACKS_DIR = ".pulumi/stacks"


def checkpoint_names(stack: str) -> frozenset[str]:
    return frozenset({f"{stack}.json", f"{stack}.json.gz"})


def stack_exists(backend: Backend, stack: str) -> bool:
    """True if the backend holds a checkpoint named for `stack`; raises EnvironmentProblem when
    the backend cannot be read (then nobody knows, and nothing may be concluded)."""
    if backend.kind == "local":
        return _local_exists(Path(urlsplit(backend.url).path), stack)
    return _s3_exists(backend.url, stack)


def _local_exists(root: Path, stack: str) -> bool:
    stacks = root / STACKS_DIR
    if not stacks.is_dir():
        return False
    names = checkpoint_names(stack)
    return any(path.name in names for path in stacks.rglob(f"{stack}.json*"))


def _s3_exists(url: str, stack: str) -> bool:
    import boto3
    import botocore.exceptions

    parts = urlsplit(url)
    bucket, root = parts.netloc, parts.path.strip("/")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = f"{root}/{STACKS_DIR}/" if root else f"{STACKS_DIR}/"
    names = checkpoint_names(stack)
    try:
        session = boto3.session.Session(profile_name=query.get("profile"))
        client = session.client(
            "s3", region_name=query.get("region"), endpoint_url=query.get("endpoint")
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                if item["Key"].rsplit("/", 1)[-1] in names:
                    return True
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.ProfileNotFound,
    ) as exc:
        raise CredentialsMissing(
            f"cannot read the state backend {url}: {exc}; configure AWS credentials"
        ) from exc
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise EnvironmentProblem(
            f"cannot list the state backend {url} ({code}): check the bucket name and that these"
            " credentials may list it"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise EnvironmentProblem(f"cannot reach the state backend {url}: {exc}") from exc
    return False
