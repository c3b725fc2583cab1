"""The viewer on files of OTLP JSON lines as an OpenTelemetry Collector's `file` exporter writes them (hex ids, 64-bit
integers as strings, enums as numbers), with malformed lines among them (`opentelemetry-kotaemon view` as a user
runs it: tests/e2e/test_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_kotaemon.cli.view import ExportedPoint, quantile, read_file, view

TRACE_A = "5b8efff798038103d269b633813fc60c"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"
MS = 1_000_000
START = 1_700_000_000_000_000_000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _attributes(**items: Any) -> list[dict[str, Any]]:
    return [{"key": key.replace("__", "."), "value": _value(value)} for key, value in items.items()]


def _span(trace_id: str, span_id: str, parent: str, name: str, start: int, end: int, **attrs: Any) -> dict[str, Any]:
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3 if name.startswith("chat") else 1,
        "startTimeUnixNano": str(START + start * MS),
        "endTimeUnixNano": str(START + end * MS),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
        "status": {"code": 2, "message": "boom"} if "error.type" in attrs else {},
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def _traces(*spans: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": _attributes(service__name="rag-app")}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "s"}, "spans": list(spans)}]}]}


def _counter(value: int, time: int, temporality: int, start: int = 0) -> dict[str, Any]:
    point = {
        "attributes": _attributes(gen_ai__request__model="m", gen_ai__token__type="input"),
        "startTimeUnixNano": str(START + start),
        "timeUnixNano": str(START + time),
        "asInt": str(value),
    }
    data = {"dataPoints": [point], "aggregationTemporality": temporality}
    metric = {"name": "tokens", "unit": "{token}", "sum": data}
    return {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"scope": {"name": "s"}, "metrics": [metric]}]}]}


def _write(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _view(path: Path) -> tuple[list[str], list[str]]:
    out: list[str] = []
    notes: list[str] = []
    view(str(path), out.append, notes.append)
    return out, notes


def test_traces_print_as_trees_in_start_order(tmp_path: Path) -> None:
    # exporters write children before their parents, and a trace can span several lines
    path = _write(
        tmp_path / "collector.jsonl",
        _traces(
            _span(TRACE_A, "b" * 16, "a" * 16, "chat m", 10, 30, **{"gen_ai.request.model": "m"}),
            _span(TRACE_B, "e" * 16, "", "second trace", 100, 101),
        ),
        _traces(
            _span(TRACE_A, "c" * 16, "a" * 16, "retrieval docs", 2, 8, **{"kotaemon.documents.count": 2}),
            _span(
                TRACE_A,
                "a" * 16,
                "",
                "invoke_workflow RAG",
                0,
                40,
                **{"kotaemon.span.kind": "pipeline", "kotaemon.usage.input_tokens": 12},
            ),
            _span(TRACE_A, "d" * 16, "f" * 16, "orphan", 5, 6, **{"error.type": "ValueError"}),
        ),
    )
    out, notes = _view(path)
    assert notes == []
    bar = 32  # cells; trace A runs 40 ms: 0.8 cell per ms
    assert out == [
        f"trace {TRACE_A[:16]}  service=rag-app  40.0 ms",
        f"  invoke_workflow RAG  {'█' * bar}      40.0 ms  INTERNAL ok     kind=pipeline total in=12",
        f"  ├─ retrieval docs    {'·' * 2 + '█' * 4 + '·' * 26}       6.0 ms  INTERNAL ok     docs=2",
        f"  └─ chat m            {'·' * 8 + '█' * 16 + '·' * 8}      20.0 ms  CLIENT   ok     model=m",
        f"  orphan               {'·' * 4 + '█' + '·' * 27}       1.0 ms  INTERNAL ERROR  error=ValueError",
        f"trace {TRACE_B[:16]}  service=rag-app  1.0 ms",
        f"  second trace  {'█' * bar}       1.0 ms  INTERNAL ok",
    ]


def test_a_span_shorter_than_a_cell_is_marked_and_deep_trees_keep_their_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "deep.jsonl",
        _traces(
            _span(TRACE_A, "a" * 16, "", "root", 0, 1000),
            _span(TRACE_A, "b" * 16, "a" * 16, "first", 0, 500),
            _span(TRACE_A, "c" * 16, "b" * 16, "tiny", 500, 501),
            _span(TRACE_A, "d" * 16, "a" * 16, "second", 500, 1000),
        ),
    )
    out, _ = _view(path)
    labels = [line[2:].split(" ·")[0].split(" █")[0].rstrip() for line in out[1:]]
    assert labels == ["root", "├─ first", "│  └─ tiny", "└─ second"]
    assert "·" * 16 + "▏" + "·" * 15 in out[3]


def test_cumulative_points_count_once_and_delta_points_add_up(tmp_path: Path) -> None:
    cumulative, delta = 2, 1
    path = _write(
        tmp_path / "metrics.jsonl",
        _counter(5, time=10, temporality=cumulative),
        _counter(7, time=20, temporality=cumulative),  # the same series, exported again: 7 in all
        _counter(3, time=5, temporality=cumulative, start=4),  # another run of the app (another start time)
    )
    out, _ = _view(path)
    assert out[-1] == "  counters: tokens=10"
    path = _write(tmp_path / "delta.jsonl", _counter(5, 10, delta), _counter(7, 20, delta))
    out, _ = _view(path)
    assert out[-1] == "  counters: tokens=12"


def _histogram(name: str, counts: list[int], low: float, high: float, unit: str = "s", **attrs: Any) -> dict[str, Any]:
    point = {
        "attributes": _attributes(**attrs),
        "startTimeUnixNano": str(START),
        "timeUnixNano": str(START + 1),
        "count": str(sum(counts)),
        "sum": (low + high) / 2 * sum(counts),
        "bucketCounts": [str(count) for count in counts],
        "explicitBounds": [0.01, 0.02, 0.04],
        "min": low,
        "max": high,
    }
    metric = {"name": name, "unit": unit, "histogram": {"dataPoints": [point], "aggregationTemporality": 2}}
    return {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"scope": {"name": "s"}, "metrics": [metric]}]}]}


def test_metrics_are_one_table_with_calls_errors_percentiles_tokens_and_documents(tmp_path: Path) -> None:
    chat = {"gen_ai__operation__name": "chat", "gen_ai__request__model": "m"}
    retriever = {"kotaemon__component": "pkg.VectorRetrieval"}
    errors = {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"scope": {"name": "s"}, "metrics": [
        {"name": "kotaemon.errors", "unit": "{error}", "sum": {"aggregationTemporality": 2, "dataPoints": [
            {"attributes": _attributes(error__type="TimeoutError"), "asInt": "1", "timeUnixNano": str(START)}]}}
    ]}]}]}  # fmt: skip
    path = _write(
        tmp_path / "metrics.jsonl",
        # 20 calls: 10 between 12 and 20 ms, 10 between 20 and 35 ms
        _histogram("gen_ai.client.operation.duration", [0, 10, 10, 0], 0.012, 0.035, **chat),
        _histogram("gen_ai.client.operation.duration", [0, 0, 1, 0], 0.03, 0.03, **chat, error__type="TimeoutError"),
        _histogram("gen_ai.client.token.usage", [0, 0, 0, 20], 50, 50, "{token}", **chat, gen_ai__token__type="input"),
        _histogram("kotaemon.retrieval.duration", [0, 4, 0, 0], 0.015, 0.015, **retriever),
        _histogram("kotaemon.retrieval.documents", [0, 0, 0, 4], 2, 2, "{document}", **retriever),
        errors,
    )
    out, _ = _view(path)
    assert out == [
        "\nmetrics",
        "  stage      model or component  calls  errors      p50      p95  tokens in  tokens out  docs",
        "  retrieval  VectorRetrieval         4       -  15.0 ms  15.0 ms          -           -     8",
        "  chat       m                      21       1  20.7 ms  33.6 ms       1000           -     -",
        "  counters: kotaemon.errors=1 (TimeoutError 1)",
    ]


def test_durations_of_other_instrumentations_get_rows_of_their_own_in_their_unit(tmp_path: Path) -> None:
    # two requests of 25 and 30 ms, above the last bound: the estimate stays within the recorded range
    path = _write(tmp_path / "http.jsonl", _histogram("http.server.duration", [0, 0, 0, 2], 25.0, 30.0, "ms"))
    out, _ = _view(path)
    assert out[2].split()[:6] == ["http.server.duration", "-", "2", "-", "27.5", "ms"]


def test_quantiles_interpolate_within_the_bucket_and_the_recorded_range() -> None:
    def point(counts: list[int], low: float | None, high: float | None) -> ExportedPoint:
        bounds = [0.01, 0.02, 0.04]
        return ExportedPoint(
            "d", "s", {}, count=sum(counts), bounds=bounds, bucket_counts=counts, minimum=low, maximum=high
        )

    within = [point([0, 10, 10, 0], 0.012, 0.035)]
    assert quantile(within, 0.5) == pytest.approx(0.02)
    assert quantile(within, 0.95) == pytest.approx(0.02 + 0.015 * 9 / 10)
    assert quantile([point([0, 0, 0, 4], None, None)], 0.5) == 0.04  # above the last bound, no maximum: that bound
    assert quantile([point([0, 0, 0, 0], None, None)], 0.5) is None


def test_malformed_lines_are_skipped_with_a_note(tmp_path: Path) -> None:
    good = _traces(_span(TRACE_A, "a" * 16, "", "kept", 0, 1))
    truncated = json.dumps(good)[:-20]  # a process killed in the middle of a write
    path = _write(
        tmp_path / "mixed.jsonl",
        truncated,
        good,
        "",
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "bad", "startTimeUnixNano": "soon"}]}]}]}',
        '{"hello": "world"}',
        "[1, 2]",
        '{"resourceLogs": "not a list of resources"}',
    )
    with path.open("ab") as file:
        file.write(b"\xff\xfe not UTF-8\n")
    notes: list[str] = []
    telemetry = read_file(str(path), notes.append)
    assert [span.name for span in telemetry.spans] == ["kept"]
    assert [note.split(":")[1] for note in notes] == ["1", "4", "5", "6", "7", "8"]
    assert all("skipped, not an OTLP JSON export request" in note for note in notes), notes


def test_log_records_are_listed(tmp_path: Path) -> None:
    record = {
        "timeUnixNano": str(START),
        "severityText": "WARN",
        "body": {"stringValue": "disk\nfull " + "x" * 300},
        "attributes": _attributes(code=7),
        "traceId": TRACE_A,
        "spanId": "a" * 16,
    }
    event = {"eventName": "gen_ai.client.inference.operation.details", "attributes": []}
    logs = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"scope": {}, "logRecords": [record, event]}]}]}
    out, _ = _view(_write(tmp_path / "logs.jsonl", logs))
    assert out[0] == "\nlogs: 2 record(s)"
    assert out[1].startswith("  WARN    disk full xxx")
    assert out[1].endswith(f"…  (trace {TRACE_A[:16]} span {'a' * 16})")
    assert out[2].split() == ["-", "gen_ai.client.inference.operation.details"]
