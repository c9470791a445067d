"""botocore Stubber for the AWS Backup calls moto 5.2.5 does not implement.

moto implements AWS Backup plans and vaults but not selections, backup/copy/restore jobs or
recovery points. `BackupStubs` attaches a botocore `Stubber` subclass to each backup client the
audit creates: the operations it was given answers for are served from those answers (validated
against the service model's output shapes by Stubber.add_response), every other operation goes
over HTTP to moto's server as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

Answer = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any] | None]


class PartialStubber(Stubber):
    """A Stubber that answers only the operations in `answers` and lets the rest through.

    Each answer is a response dict, or a function of the request parameters returning one (or
    None to let that call through); the response is validated against the operation's output
    shape before use.
    """

    def __init__(self, client: Any, answers: dict[str, Answer], calls: list[tuple[str, dict]]):
        super().__init__(client)
        self._answers = answers
        self._calls = calls
        self._params: dict[str, dict[str, Any]] = {}

    def _assert_expected_params(self, model, params, context, **kwargs):  # type: ignore[override]
        # Called with the API parameters (before serialisation): remember them for the record.
        if model.name in self._answers:
            self._params[model.name] = dict(params)

    def _get_response_handler(self, model, params, context, **kwargs):  # type: ignore[override]
        if model.name not in self._answers:
            return None  # not stubbed: the real HTTP call to moto happens
        api_params = self._params.pop(model.name, {})
        answer = self._answers[model.name]
        response = answer(api_params) if callable(answer) else answer
        if response is None:
            return None  # the answer function declined: this call goes to moto
        self._validate_operation_response(model.name, response)  # shape check from the model
        self._calls.append((model.name, api_params))
        return (AWSResponse(None, 200, {}, None), response)


class BackupStubs:
    """Answers for AWS Backup operations by name, attached to every backup client made."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.calls: list[tuple[str, dict]] = []
        self.stubbers: list[PartialStubber] = []
        self.plans: dict[str, Any] = {}  # backup plan id -> the test's tenant (for selections)

    def on(self, operation: str, answer: Answer) -> BackupStubs:
        self.answers[operation] = answer
        return self

    # AWS Backup (selections, jobs) and SSM compliance: what moto 5.2.5 does not implement.
    SERVICES = ("backup", "ssm")

    def attach(self, service: str, region: str, client: Any) -> None:
        if service not in self.SERVICES:
            return
        stubber = PartialStubber(client, self.answers, self.calls)
        stubber.activate()
        self.stubbers.append(stubber)

    def called(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]
