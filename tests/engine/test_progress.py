"""Event-to-progress mapping, on events built from pulumi.automation.events classes."""

from __future__ import annotations

import io
import json

from pulumi.automation.events import (
    CancelEvent,
    DiagnosticEvent,
    EngineEvent,
    OpType,
    PolicyEvent,
    PreludeEvent,
    ResOpFailedEvent,
    ResourcePreEvent,
    ResOutputsEvent,
    StdoutEngineEvent,
    StepEventMetadata,
    SummaryEvent,
)

from provisioner.engine.display import JsonLinesSink, RichProgressSink
from provisioner.engine.progress import EventRecord, Progress, Tracker, describe, notice

STACK = "urn:pulumi:tenant-demo::tenant::pulumi:pulumi:Stack::tenant-tenant-demo"
VPC = "urn:pulumi:tenant-demo::tenant::aws:ec2/vpc:Vpc::t-demo-vpc"
APP = "urn:pulumi:tenant-demo::tenant::aws:ec2/instance:Instance::t-demo-app"
T0 = 1_764_300_000  # Unix seconds


def step(urn: str, op: OpType, type_: str) -> StepEventMetadata:
    return StepEventMetadata(op=op, urn=urn, type=type_, provider="")


def pre(seq: int, ts: int, urn: str, op: OpType, type_: str) -> EngineEvent:
    return EngineEvent(seq, ts, resource_pre_event=ResourcePreEvent(step(urn, op, type_)))


def outputs(seq: int, ts: int, urn: str, op: OpType, type_: str) -> EngineEvent:
    return EngineEvent(seq, ts, res_outputs_event=ResOutputsEvent(step(urn, op, type_)))


def failed(seq: int, ts: int, urn: str, op: OpType, type_: str) -> EngineEvent:
    return EngineEvent(
        seq, ts, res_op_failed_event=ResOpFailedEvent(step(urn, op, type_), status=1, steps=1)
    )


def summary(seq: int, ts: int, changes: dict[OpType, int]) -> EngineEvent:
    return EngineEvent(
        seq,
        ts,
        summary_event=SummaryEvent(
            maybe_corrupt=False,
            duration_seconds=ts - T0,
            resource_changes=changes,
            policy_packs={},
        ),
    )


def an_update() -> list[EngineEvent]:
    """A small `up`: the stack is unchanged, a VPC created, the app server fails."""
    return [
        EngineEvent(0, T0, prelude_event=PreludeEvent(config={})),
        pre(1, T0, STACK, OpType.SAME, "pulumi:pulumi:Stack"),
        pre(2, T0 + 1, VPC, OpType.CREATE, "aws:ec2/vpc:Vpc"),
        outputs(3, T0 + 4, VPC, OpType.CREATE, "aws:ec2/vpc:Vpc"),
        pre(4, T0 + 5, APP, OpType.CREATE, "aws:ec2/instance:Instance"),
        EngineEvent(
            5,
            T0 + 9,
            diagnostic_event=DiagnosticEvent(
                message="creating EC2 Instance: InsufficientInstanceCapacity: ...\n",
                color="never",
                severity="error",
                urn=APP,
            ),
        ),
        failed(6, T0 + 9, APP, OpType.CREATE, "aws:ec2/instance:Instance"),
        outputs(7, T0 + 10, STACK, OpType.SAME, "pulumi:pulumi:Stack"),
        summary(8, T0 + 10, {OpType.CREATE: 1, OpType.SAME: 1}),
    ]


def test_describe_flattens_each_kind() -> None:
    records = [describe(e) for e in an_update()]
    assert [r.kind for r in records] == [
        "prelude",
        "resource-pre",
        "resource-pre",
        "resource-outputs",
        "resource-pre",
        "diagnostic",
        "resource-failed",
        "resource-outputs",
        "summary",
    ]
    vpc = records[2]
    assert (vpc.op, vpc.resource_type, vpc.name, vpc.urn) == (
        "create",
        "aws:ec2/vpc:Vpc",
        "t-demo-vpc",
        VPC,
    )
    assert records[5].severity == "error"
    assert records[5].message == "creating EC2 Instance: InsufficientInstanceCapacity: ..."
    assert records[8].changes == {"create": 1, "same": 1}


def test_progress_counts_done_total_failed_and_current_step() -> None:
    tracker = Tracker("up")
    seen = [tracker.observe(describe(e)) for e in an_update()]
    after_vpc_start = seen[2]
    assert (after_vpc_start.done, after_vpc_start.total) == (0, 2)
    assert after_vpc_start.current == "create aws:ec2/vpc:Vpc t-demo-vpc"
    after_vpc_done = seen[3]
    assert (after_vpc_done.done, after_vpc_done.total, after_vpc_done.elapsed_seconds) == (1, 2, 4)
    app_running = seen[4]
    assert app_running.current == "create aws:ec2/instance:Instance t-demo-app"
    assert (app_running.done, app_running.total) == (1, 3)
    final = seen[-1]
    assert final == Progress(
        verb="up",
        done=3,
        total=3,
        failed=1,
        current=None,
        elapsed_seconds=10,
        finished=True,
        changes={"create": 1, "same": 1},
    )


def test_expected_total_from_the_plan_sizes_the_bar_until_more_resources_appear() -> None:
    tracker = Tracker("up", expected_total=33)
    progress = tracker.observe(describe(an_update()[1]))
    assert (progress.done, progress.total) == (0, 33)


def test_elapsed_comes_from_event_timestamps_not_a_clock() -> None:
    tracker = Tracker("preview")
    tracker.observe(describe(pre(1, T0 + 100, VPC, OpType.CREATE, "aws:ec2/vpc:Vpc")))
    later = tracker.observe(describe(outputs(2, T0 + 163, VPC, OpType.CREATE, "aws:ec2/vpc:Vpc")))
    assert later.elapsed_seconds == 63
    untimed = tracker.observe(notice("lock released"))  # notices carry no timestamp
    assert untimed.elapsed_seconds == 63


def test_other_event_kinds_map_without_moving_the_bar() -> None:
    events = [
        EngineEvent(1, T0, stdout_event=StdoutEngineEvent(message="  hello ", color="never")),
        EngineEvent(2, T0, cancel_event=CancelEvent()),
        EngineEvent(
            3,
            T0,
            policy_event=PolicyEvent(
                message="listener allows TLS 1.0",
                color="never",
                policy_name="tls-policy",
                policy_pack_name="provisioner",
                policy_pack_version="1",
                policy_pack_version_tag="1",
                enforcement_level="mandatory",
                resource_urn=APP,
            ),
        ),
        EngineEvent(4, T0),
    ]
    records = [describe(e) for e in events]
    assert [r.kind for r in records] == ["stdout", "cancel", "policy", "other"]
    assert records[0].message == "hello"
    assert records[2].message == "tls-policy: listener allows TLS 1.0"
    assert records[2].severity == "mandatory"
    tracker = Tracker("preview")
    for record in records:
        progress = tracker.observe(record)
    assert (progress.done, progress.total, progress.current) == (0, 0, None)


def test_records_round_trip_through_the_sdks_json_parser() -> None:
    """The CLI's own event JSON, parsed by the SDK, maps the same as hand-built events."""
    raw = {
        "sequence": 7,
        "timestamp": T0,
        "resourcePreEvent": {
            "metadata": {"op": "replace", "urn": APP, "type": "aws:ec2/instance:Instance"}
        },
    }
    record = describe(EngineEvent.from_json(raw))
    assert (record.kind, record.op, record.sequence, record.name) == (
        "resource-pre",
        "replace",
        7,
        "t-demo-app",
    )


def test_json_lines_are_sorted_and_one_per_event() -> None:
    stream = io.StringIO()
    sink = JsonLinesSink(stream)
    tracker = Tracker("up")
    for event in an_update()[:4]:
        record = describe(event)
        sink(record, tracker.observe(record))
    sink.final({"kind": "result", "result": {"verb": "up"}})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    parsed = [json.loads(line) for line in lines]
    assert parsed[3]["event"] == {
        "kind": "resource-outputs",
        "op": "create",
        "sequence": 3,
        "timestamp": T0 + 4,
        "type": "aws:ec2/vpc:Vpc",
        "urn": VPC,
    }
    assert parsed[3]["progress"]["done"] == 1
    assert [p["kind"] for p in parsed] == ["event"] * 4 + ["result"]
    for line in lines:
        assert line == json.dumps(json.loads(line), sort_keys=True)


def test_notice_record() -> None:
    record = notice("AWS has no capacity in eu-central-1a; retrying in eu-central-1b")
    assert record == EventRecord(
        kind="notice",
        severity="warning",
        message="AWS has no capacity in eu-central-1a; retrying in eu-central-1b",
    )
    assert record.to_dict() == {
        "kind": "notice",
        "message": "AWS has no capacity in eu-central-1a; retrying in eu-central-1b",
        "sequence": 0,
        "severity": "warning",
    }


def test_rich_display_shows_warnings_and_errors_above_the_bar() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    tracker = Tracker("up")
    with RichProgressSink("up tenant-demo", console=console) as bar:
        for event in an_update():
            record = describe(event)
            bar(record, tracker.observe(record))
        bar(notice("tenant-demo is locked by another update; retrying in 5s"), tracker.progress)
    text = out.getvalue()
    assert "error: t-demo-app creating EC2 Instance: InsufficientInstanceCapacity" in text
    assert "warning: tenant-demo is locked by another update; retrying in 5s" in text
    assert "3/3" in text  # the final bar: resources done / total
