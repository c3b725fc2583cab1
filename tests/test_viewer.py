"""The viewer on files of OTLP JSON lines as an OpenTelemetry Collector's `file` exporter writes them (hex ids, 64-bit
integers as strings, enums as numbers), with malformed lines among them; and `opentelemetry-kotaemon view` as a
user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_kotaemon.cli.view import read_file, view

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
    assert out == [
        f"trace {TRACE_A[:16]}  service=rag-app",
        "  └─ invoke_workflow RAG  [INTERNAL, 40.0 ms, ok]  kind=pipeline total in=12",
        "    └─ retrieval docs  [INTERNAL, 6.0 ms, ok]  docs=2",
        "    └─ chat m  [CLIENT, 20.0 ms, ok]  model=m",
        "  └─ orphan  [INTERNAL, 1.0 ms, ERROR]  error=ValueError",
        f"trace {TRACE_B[:16]}  service=rag-app",
        "  └─ second trace  [INTERNAL, 1.0 ms, ok]",
    ]


def test_cumulative_points_count_once_and_delta_points_add_up(tmp_path: Path) -> None:
    cumulative, delta = 2, 1
    path = _write(
        tmp_path / "metrics.jsonl",
        _counter(5, time=10, temporality=cumulative),
        _counter(7, time=20, temporality=cumulative),  # the same series, exported again: 7 in all
        _counter(3, time=5, temporality=cumulative, start=4),  # another run of the app (another start time)
    )
    out, _ = _view(path)
    assert out[-1].split() == ["tokens", "[{token}]", "gen_ai.request.model=m,", "gen_ai.token.type=input", "count=10"]
    path = _write(tmp_path / "delta.jsonl", _counter(5, 10, delta), _counter(7, 20, delta))
    out, _ = _view(path)
    assert out[-1].endswith("count=12")


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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("opentelemetry-kotaemon")), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_view_command(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", _traces(_span(TRACE_A, "a" * 16, "", "root", 0, 1)), "{broken")
    result = _cli("view", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"trace {TRACE_A[:16]}  service=rag-app", "  └─ root  [INTERNAL, 1.0 ms, ok]"]
    assert f"{path}:2: skipped" in result.stderr

    missing = _cli("view", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    empty = _cli("view", str(_write(tmp_path / "empty.jsonl", "")))
    assert empty.returncode == 0 and "no telemetry found" in empty.stderr
