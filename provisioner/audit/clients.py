"""The one place in provisioner that creates boto3 clients, and maps botocore's errors to ours.

- One boto3 Session per thread: sessions are not thread-safe, clients made from one are
  (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
- The region is chosen per call: a tenant lives in one region and its backups in another.
- Retries use botocore's "standard" mode (throttling and transient errors, exponential backoff);
  `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` still win, as they do for plain boto3.
- No endpoint is passed: boto3 itself honours `AWS_ENDPOINT_URL` (and the per-service
  `AWS_ENDPOINT_URL_<SERVICE>`), which is how the tests point everything at moto's server.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from provisioner.errors import AwsRefused, EnvironmentProblem

_DEFAULT_MAX_ATTEMPTS = 5  # first try + 4 retries
_CONNECT_TIMEOUT_S = 10
_READ_TIMEOUT_S = 60

# Error codes that mean "your credentials are wrong", not "the check failed".
_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)

ClientHook = Callable[[str, str, Any], None]


def retry_config() -> Config:
    """The botocore config every client gets."""
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in ("legacy", "standard", "adaptive"):
        mode = "standard"
    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", _DEFAULT_MAX_ATTEMPTS))
    except ValueError:
        attempts = _DEFAULT_MAX_ATTEMPTS
    retries: Any = {"mode": mode, "total_max_attempts": max(1, attempts)}
    return Config(
        retries=retries,
        connect_timeout=_CONNECT_TIMEOUT_S,
        read_timeout=_READ_TIMEOUT_S,
        user_agent_extra="provisioner-audit",
    )


_THREAD = threading.local()  # one boto3 Session per (thread, profile), shared by all Clients


def _thread_session(profile: str | None) -> boto3.session.Session:
    """This thread's session for `profile`.

    Sessions are not thread-safe, so each thread has its own; they share one botocore data
    loader (its caches only grow, and reading a service model is the slow part of making a
    client), and a thread reuses its session across Clients.
    """
    sessions: dict[str | None, boto3.session.Session] = _THREAD.__dict__.setdefault("sessions", {})
    if profile not in sessions:
        core = botocore.session.Session()
        core.register_component("data_loader", _shared_loader())
        sessions[profile] = boto3.session.Session(botocore_session=core, profile_name=profile)
    return sessions[profile]


@functools.cache
def _shared_loader() -> Any:
    # The loader a default session makes (honours AWS_DATA_PATH and ~/.aws/models).
    return botocore.session.Session().get_component("data_loader")


class Clients:
    """boto3 clients by (service, region), made from this thread's session.

    `on_new_client(service, region, client)` runs once for each client created; tests use it to
    attach botocore Stubbers for the AWS Backup calls moto does not implement.
    """

    def __init__(
        self,
        profile: str | None = None,
        on_new_client: ClientHook | None = None,
    ) -> None:
        self._profile = profile
        self._on_new_client = on_new_client
        self._local = threading.local()
        self._config = retry_config()

    def client(self, service: str, region: str, role_arn: str | None = None) -> Any:
        """A client for `service` in `region`, cached for this thread; with `role_arn`, acting
        as that role (another account's, e.g. the location's backup account), assumed once per
        thread with this session's credentials."""
        cache: dict[tuple[str, str, str], Any] = self._local.__dict__.setdefault("clients", {})
        key = (service, region, role_arn or "")
        if key not in cache:
            with aws_errors():
                session = self._assumed(role_arn, region) if role_arn \
                    else _thread_session(self._profile)
                made = session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]
            if self._on_new_client is not None:
                self._on_new_client(service, region, made)
            cache[key] = made
        return cache[key]


    def _assumed(self, role_arn: str, region: str) -> boto3.session.Session:
        sessions: dict[str, boto3.session.Session] = self._local.__dict__.setdefault(
            "assumed", {})
        if role_arn not in sessions:
            sts = self.client("sts", region)
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="provisioner-audit")[
                "Credentials"]
            core = botocore.session.Session()
            core.register_component("data_loader", _shared_loader())
            sessions[role_arn] = boto3.session.Session(
                botocore_session=core,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return sessions[role_arn]


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(exc: BaseException) -> bool:
    """True for the many ways AWS says "no such resource"."""
    code = error_code(exc)
    return code.endswith(("NotFound", "NotFoundFault", "NotFoundException")) or code in {
        "NoSuchBucket",
        "NoSuchTagSet",
        "InvalidVolume.NotFound",
        "InvalidSnapshot.NotFound",
        "DBInstanceNotFound",
        "DBSnapshotNotFound",
        "LoadBalancerNotFound",
    }


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Turn botocore's environment failures into EnvironmentProblem (exit 3) with a next step."""
    try:
        yield
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
    ) as exc:
        raise EnvironmentProblem(
            f"no usable AWS credentials ({exc}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY, or run 'aws sso login'"
        ) from exc
    except botocore.exceptions.ProfileNotFound as exc:
        raise EnvironmentProblem(f"{exc}: check AWS_PROFILE and ~/.aws/config") from exc
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
    ) as exc:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f" (AWS_ENDPOINT_URL={endpoint})" if endpoint else ""
        raise EnvironmentProblem(
            f"cannot reach AWS{where}: {exc}; check the network, the region and AWS_ENDPOINT_URL"
        ) from exc
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in _CREDENTIAL_CODES:
            raise EnvironmentProblem(
                f"AWS rejected the credentials ({error_code(exc)}): refresh them"
                " (aws sso login, or new access keys) and retry"
            ) from exc
        if error_code(exc) in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            raise EnvironmentProblem(
                f"AWS denied {exc.operation_name}: grant the audit role this permission ({exc})"
            ) from exc
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f" (AWS_ENDPOINT_URL={endpoint})" if endpoint else ""
        if error_code(exc).isdigit() and not exc.operation_name.startswith("Head"):
            # No AWS error in the body, only an HTTP status (botocore then uses it as the code;
            # only HEAD requests answer so by design): whatever answered is not the AWS API,
            # e.g. an emulator lacking this operation.
            raise EnvironmentProblem(
                f"the endpoint{where} answered {exc.operation_name} with HTTP {status} and no"
                " AWS error, so it does not implement it: audit against AWS, or an endpoint"
                " that implements it"
            ) from exc
        if status >= 500:
            # botocore's retries are spent: the service is failing, the tenant is not at fault.
            raise EnvironmentProblem(
                f"AWS{where} failed {exc.operation_name} with HTTP {status} ({error_code(exc)})"
                " after retries: try again later"
            ) from exc
        # One line, however much HTML an endpoint sent back.
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:300]
        raise AwsRefused(
            f"AWS refused {exc.operation_name}: {error_code(exc)}: {message}".strip(),
            operation=exc.operation_name,
            code=error_code(exc),
        ) from exc
