"""Telemetry in the OTLP JSON encoding, read into plain records and printed for a person.

Reads the files our `kotaemon_file` exporters write and those of the OpenTelemetry Collector's `file` exporter (one
export request per line). `opentelemetry-kotaemon view FILE` prints each trace as an indented tree with durations,
kinds, models and token counts, then a metrics summary and the log records.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..attributes import (
    ERROR_TYPE,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    HTTP_REQUEST_RESEND_COUNT,
    KOTAEMON_COMPONENT,
    KOTAEMON_DOCUMENT_COUNT,
    KOTAEMON_SPAN_KIND,
    KOTAEMON_STREAM_ABANDONED,
    KOTAEMON_STREAM_CHUNK_COUNT,
    KOTAEMON_USAGE_INPUT_TOKENS,
    KOTAEMON_USAGE_OUTPUT_TOKENS,
)

Output = Callable[[str], None]

STATUS_ERROR = 2
_DELTA = 1  # AggregationTemporality
_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
# span attribute -> its label in the tree
_SHOWN = (
    (KOTAEMON_SPAN_KIND, "kind"),
    (GEN_AI_REQUEST_MODEL, "model"),
    (GEN_AI_USAGE_INPUT_TOKENS, "in"),
    (GEN_AI_USAGE_OUTPUT_TOKENS, "out"),
    (KOTAEMON_USAGE_INPUT_TOKENS, "total in"),
    (KOTAEMON_USAGE_OUTPUT_TOKENS, "total out"),
    (KOTAEMON_DOCUMENT_COUNT, "docs"),
    (GEN_AI_TOOL_NAME, "tool"),
    (HTTP_REQUEST_RESEND_COUNT, "retries"),
    (KOTAEMON_STREAM_CHUNK_COUNT, "chunks"),
    (KOTAEMON_STREAM_ABANDONED, "abandoned"),
    (ERROR_TYPE, "error"),
)
# metric attributes that split the summary's rows
_METRIC_LABELS = (GEN_AI_REQUEST_MODEL, GEN_AI_TOKEN_TYPE, KOTAEMON_COMPONENT, GEN_AI_TOOL_NAME, ERROR_TYPE)
_LOG_BODY_WIDTH = 160


@dataclass
class ExportedSpan:
    """One span; ids in hex, times in nanoseconds since the epoch, `kind` and `status_code` as OTLP numbers them."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]
    scope: str
    start: int
    end: int

    @property
    def is_error(self) -> bool:
        """Whether the span's status is ERROR."""
        return self.status_code == STATUS_ERROR


@dataclass
class ExportedPoint:
    """One data point of a metric: sums and gauges have `value`, histograms `count`, `sum` and `bounds`."""

    metric: str
    unit: str
    attributes: dict[str, Any]
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bounds: list[float] = field(default_factory=list)
    scope: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    time: int = 0
    delta: bool = False  # delta points add up; cumulative points and gauges replace the series' earlier points


@dataclass
class ExportedLogRecord:
    """One log record or event; `trace_id` and `span_id` (hex) are empty outside a span."""

    body: Any
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    event_name: str
    scope: str
    severity: str = ""


@dataclass
class ExportedTelemetry:
    """Spans, metric points and log records, in the order they were read."""

    spans: list[ExportedSpan] = field(default_factory=list)
    points: list[ExportedPoint] = field(default_factory=list)
    logs: list[ExportedLogRecord] = field(default_factory=list)

    def add(self, request: Mapping[str, Any]) -> None:
        """Add the records of one OTLP export request (traces, metrics or logs) in the JSON encoding.

        Raises ValueError (or TypeError, KeyError, AttributeError for a wrong shape) and adds nothing if it is not one.
        """
        if not any(key in request for key in ("resourceSpans", "resourceMetrics", "resourceLogs")):
            raise ValueError("no resourceSpans, resourceMetrics or resourceLogs")
        spans, points, logs = _spans(request), _points(request), _logs(request)
        self.spans.extend(spans)
        self.points.extend(points)
        self.logs.extend(logs)


def any_value(value: Mapping[str, Any]) -> Any:
    """An OTLP JSON AnyValue as a plain Python value."""
    if "arrayValue" in value:
        return [any_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return value.get("stringValue", value.get("boolValue"))


def attributes(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """OTLP JSON key-value pairs as a dict."""
    return {item["key"]: any_value(item.get("value", {})) for item in items}


def _resources(request: Mapping[str, Any], key: str, scoped: str) -> Iterable[tuple[dict[str, Any], str, Any]]:
    """(resource attributes, scope name, scope entry) for every scope of every resource in `request[key]`."""
    for resource_entry in request.get(key, []):
        resource = attributes(resource_entry.get("resource", {}).get("attributes", []))
        for scope_entry in resource_entry.get(scoped, []):
            yield resource, scope_entry.get("scope", {}).get("name", ""), scope_entry


def _spans(request: Mapping[str, Any]) -> list[ExportedSpan]:
    return [
        ExportedSpan(
            name=span.get("name", ""),
            kind=int(span.get("kind", 0)),
            trace_id=span.get("traceId", ""),
            span_id=span.get("spanId", ""),
            parent_id=span.get("parentSpanId", ""),
            attributes=attributes(span.get("attributes", [])),
            status_code=int(span.get("status", {}).get("code", 0)),
            status_message=span.get("status", {}).get("message", ""),
            events=[
                (event.get("name", ""), attributes(event.get("attributes", []))) for event in span.get("events", [])
            ],
            resource=resource,
            scope=scope,
            start=int(span.get("startTimeUnixNano", 0)),
            end=int(span.get("endTimeUnixNano", 0)),
        )
        for resource, scope, entry in _resources(request, "resourceSpans", "scopeSpans")
        for span in entry.get("spans", [])
    ]


def _points(request: Mapping[str, Any]) -> list[ExportedPoint]:
    points = []
    for resource, scope, entry in _resources(request, "resourceMetrics", "scopeMetrics"):
        for metric in entry.get("metrics", []):
            for kind in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
                if kind in metric:
                    data = metric[kind]
                    break
            else:
                continue
            delta = data.get("aggregationTemporality") == _DELTA
            for point in data.get("dataPoints", []):
                common = {
                    "attributes": attributes(point.get("attributes", [])),
                    "scope": scope,
                    "resource": resource,
                    "start": int(point.get("startTimeUnixNano", 0)),
                    "time": int(point.get("timeUnixNano", 0)),
                    "delta": delta,
                }
                if kind in ("sum", "gauge"):
                    value = int(point["asInt"]) if "asInt" in point else float(point.get("asDouble", 0.0))
                    points.append(ExportedPoint(metric["name"], metric.get("unit", ""), value=value, **common))
                else:
                    points.append(
                        ExportedPoint(
                            metric["name"],
                            metric.get("unit", ""),
                            count=int(point.get("count", 0)),
                            sum=float(point.get("sum", 0.0)),
                            bounds=[float(bound) for bound in point.get("explicitBounds", [])],
                            **common,
                        )
                    )
    return points


def _logs(request: Mapping[str, Any]) -> list[ExportedLogRecord]:
    records = []
    for _, scope, entry in _resources(request, "resourceLogs", "scopeLogs"):
        for record in entry.get("logRecords", []):
            attrs = attributes(record.get("attributes", []))
            records.append(
                ExportedLogRecord(
                    body=any_value(record.get("body", {})),
                    attributes=attrs,
                    trace_id=record.get("traceId", ""),
                    span_id=record.get("spanId", ""),
                    event_name=record.get("eventName") or str(attrs.get("event.name", "")),
                    scope=scope,
                    severity=record.get("severityText", ""),
                )
            )
    return records


def read_file(path: str, note: Output) -> ExportedTelemetry:
    """Every export request in the OTLP JSON lines file at `path`; lines that are not one are skipped with a note."""
    telemetry = ExportedTelemetry()
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                telemetry.add(json.loads(line))
            except ValueError as error:  # JSONDecodeError is one
                note(f"{path}:{number}: skipped, not an OTLP JSON export request ({error})")
            except (TypeError, KeyError, AttributeError) as error:
                note(f"{path}:{number}: skipped, not an OTLP JSON export request (unexpected shape: {error!r})")
    return telemetry


def _describe(span: ExportedSpan) -> str:
    millis = (span.end - span.start) / 1e6
    details = [f"{label}={span.attributes[key]}" for key, label in _SHOWN if key in span.attributes]
    status = "ERROR" if span.is_error else "ok"
    return f"{span.name}  [{_KINDS.get(span.kind, '?')}, {millis:.1f} ms, {status}]  {' '.join(details)}".rstrip()


def print_traces(spans: Iterable[ExportedSpan], out: Output = print) -> None:
    """Print every trace as an indented tree, traces and children in start order. A span whose parent is not among
    the spans (another process's, or not exported) is shown at the top of its trace."""
    by_trace: dict[str, list[ExportedSpan]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    for trace_id, members in sorted(by_trace.items(), key=lambda item: min(s.start for s in item[1])):
        ids = {span.span_id for span in members}
        children: dict[str, list[ExportedSpan]] = defaultdict(list)
        for span in members:
            children[span.parent_id if span.parent_id in ids else ""].append(span)
        out(f"trace {trace_id[:16]}  service={members[0].resource.get('service.name')}")
        _print_children(children, "", 1, out)


def _print_children(children: dict[str, list[ExportedSpan]], parent: str, depth: int, out: Output) -> None:
    for child in sorted(children[parent], key=lambda span: span.start):
        out("  " * depth + "└─ " + _describe(child))
        _print_children(children, child.span_id, depth + 1, out)


def current_points(points: Iterable[ExportedPoint]) -> list[ExportedPoint]:
    """The points that make up each series' total: every delta point, and of cumulative points and gauges only the
    newest of each series (per resource, scope, metric, attributes and start time, so separate runs add up)."""
    newest: dict[str, ExportedPoint] = {}
    deltas = []
    for point in points:
        if point.delta:
            deltas.append(point)
            continue
        key = json.dumps(
            [point.resource, point.scope, point.metric, point.attributes, point.start], sort_keys=True, default=str
        )
        if key not in newest or point.time >= newest[key].time:
            newest[key] = point
    return deltas + list(newest.values())


def print_metrics(points: Iterable[ExportedPoint], out: Output = print) -> None:
    """Print one line per metric and model (or component, tool, error): counts and sums."""
    out("\nmetrics")
    rows: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for point in current_points(points):
        label = ", ".join(f"{key}={value}" for key, value in point.attributes.items() if key in _METRIC_LABELS)
        row = rows[(f"{point.metric} [{point.unit}]", label)]
        row[0] += point.count if point.count is not None else (point.value or 0)
        row[1] += point.sum or 0
    for (metric, label), (count, total) in sorted(rows.items()):
        sums = f" sum={total:.4g}" if total else ""
        out(f"  {metric:<52} {label:<60} count={count:g}{sums}")


def print_logs(records: Iterable[ExportedLogRecord], out: Output = print) -> None:
    """Print the number of log records, then one line each: severity, event name, body, and the span it belongs to."""
    records = list(records)
    out(f"\nlogs: {len(records)} record(s)")
    for record in records:
        body = " ".join(str(record.body).split()) if record.body is not None else ""
        if len(body) > _LOG_BODY_WIDTH:
            body = body[: _LOG_BODY_WIDTH - 1] + "…"
        where = f"  (trace {record.trace_id[:16]} span {record.span_id})" if record.trace_id else ""
        out(f"  {record.severity or '-':<7} {record.event_name + ' ' if record.event_name else ''}{body}{where}")


def view(path: str, out: Output = print, note: Output = print) -> None:
    """Print the telemetry in the file at `path`: traces, metrics, logs; notes about skipped lines go to `note`."""
    telemetry = read_file(path, note)
    if not (telemetry.spans or telemetry.points or telemetry.logs):
        note(f"{path}: no telemetry found")
        return
    print_traces(telemetry.spans, out)
    if telemetry.points:
        print_metrics(telemetry.points, out)
    if telemetry.logs:
        print_logs(telemetry.logs, out)
