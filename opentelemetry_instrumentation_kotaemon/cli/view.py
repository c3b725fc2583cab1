"""Telemetry in the OTLP JSON encoding, read into plain records and printed for a person.

Reads the files our `kotaemon_file` exporters write and those of the OpenTelemetry Collector's `file` exporter (one
export request per line). `opentelemetry-kotaemon view FILE` prints each trace as a tree with a timing bar per span
(a waterfall), durations, kinds, models and token counts, then one metrics table and the log records. `make demo`
prints with the same functions.
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
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    HTTP_REQUEST_RESEND_COUNT,
    KIND_AGENT,
    KIND_INDEXING,
    KIND_PIPELINE,
    KIND_RERANKER,
    KIND_RETRIEVER,
    KIND_TOOL,
    KOTAEMON_COMPONENT,
    KOTAEMON_DOCUMENT_COUNT,
    KOTAEMON_SPAN_KIND,
    KOTAEMON_STREAM_ABANDONED,
    KOTAEMON_STREAM_CHUNK_COUNT,
    KOTAEMON_USAGE_INPUT_TOKENS,
    KOTAEMON_USAGE_OUTPUT_TOKENS,
    METRIC_ERRORS,
    METRIC_INDEXING_DOCUMENTS,
    METRIC_OPERATION_DURATION,
    METRIC_RERANK_DOCUMENTS,
    METRIC_RETRIEVAL_DOCUMENTS,
    METRIC_TIME_TO_FIRST_CHUNK,
    METRIC_TOKEN_USAGE,
    STEP_DURATION_METRICS,
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
_LOG_BODY_WIDTH = 160
_BAR_WIDTH = 32
_NAME_WIDTH = 56
# the metrics table: step duration and document metrics -> their stage, and the order of the stages
_STAGE_OF_KIND = {
    KIND_PIPELINE: "pipeline",
    KIND_AGENT: "agent",
    KIND_INDEXING: "indexing",
    KIND_RETRIEVER: "retrieval",
    KIND_RERANKER: "rerank",
    KIND_TOOL: "tool",
}
_STAGE_OF_DURATION = {metric: _STAGE_OF_KIND[kind] for kind, metric in STEP_DURATION_METRICS.items()}
_STAGE_OF_DOCUMENTS = {
    METRIC_RETRIEVAL_DOCUMENTS: "retrieval",
    METRIC_RERANK_DOCUMENTS: "rerank",
    METRIC_INDEXING_DOCUMENTS: "indexing",
}
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 0.001}
_STAGES = ("pipeline", "agent", "indexing", "retrieval", "rerank", "tool", "chat", "embeddings", "first chunk")


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
    links: list[tuple[str, str]] = field(default_factory=list)
    """(trace id, span id) of each span this one links to."""

    @property
    def is_error(self) -> bool:
        """Whether the span's status is ERROR."""
        return self.status_code == STATUS_ERROR


@dataclass
class ExportedPoint:
    """One data point of a metric: sums and gauges have `value`; histograms `count`, `sum`, `bounds`, `bucket_counts`
    (one more than `bounds`) and, when recorded, `minimum` and `maximum`."""

    metric: str
    unit: str
    attributes: dict[str, Any]
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bounds: list[float] = field(default_factory=list)
    bucket_counts: list[int] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
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
            links=[(link.get("traceId", ""), link.get("spanId", "")) for link in span.get("links", [])],
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
                            bucket_counts=[int(count) for count in point.get("bucketCounts", [])],
                            minimum=float(point["min"]) if "min" in point else None,
                            maximum=float(point["max"]) if "max" in point else None,
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


def _details(span: ExportedSpan) -> str:
    return " ".join(f"{label}={span.attributes[key]}" for key, label in _SHOWN if key in span.attributes)


def _bar(span: ExportedSpan, trace_start: int, trace_nanos: int) -> str:
    """The span's place in its trace as a bar of `_BAR_WIDTH` cells: `█` where it ran, `·` elsewhere; `▏` marks a
    span shorter than half a cell."""
    scale = _BAR_WIDTH / trace_nanos if trace_nanos > 0 else 0.0
    first = min(round((span.start - trace_start) * scale), _BAR_WIDTH - 1)
    if (span.end - span.start) * scale < 0.5:
        return "·" * first + "▏" + "·" * (_BAR_WIDTH - first - 1)
    last = min(max(round((span.end - trace_start) * scale), first + 1), _BAR_WIDTH)
    return "·" * first + "█" * (last - first) + "·" * (_BAR_WIDTH - last)


def print_traces(spans: Iterable[ExportedSpan], out: Output = print) -> None:
    """Print every trace as a tree, traces and children in start order, each span with a bar showing when it ran
    within its trace (a waterfall), its duration, kind, status and main attributes. A span whose parent is not among
    the spans (another process's, or not exported) is shown at the top of its trace."""
    by_trace: dict[str, list[ExportedSpan]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    for trace_id, members in sorted(by_trace.items(), key=lambda item: min(s.start for s in item[1])):
        ids = {span.span_id for span in members}
        children: dict[str, list[ExportedSpan]] = defaultdict(list)
        for span in members:
            children[span.parent_id if span.parent_id in ids else ""].append(span)
        rows: list[tuple[str, ExportedSpan]] = []
        _tree_rows(children, "", "", True, rows)
        start, end = min(s.start for s in members), max(s.end for s in members)
        service = members[0].resource.get("service.name")
        out(f"trace {trace_id[:16]}  service={service}  {(end - start) / 1e6:.1f} ms")
        width = min(max(len(label) for label, _ in rows), _NAME_WIDTH)
        for label, span in rows:
            name = label if len(label) <= width else label[: width - 1] + "…"
            status = "ERROR" if span.is_error else "ok"
            line = (
                f"  {name:<{width}}  {_bar(span, start, end - start)} {(span.end - span.start) / 1e6:9.1f} ms"
                f"  {_KINDS.get(span.kind, '?'):<8} {status:<5}  {_details(span)}"
            )
            out(line.rstrip())


def _tree_rows(
    children: dict[str, list[ExportedSpan]], parent: str, indent: str, top: bool, rows: list[tuple[str, ExportedSpan]]
) -> None:
    """Append (tree label, span) for the children of `parent` and below, depth first in start order."""
    ordered = sorted(children[parent], key=lambda span: span.start)
    for number, child in enumerate(ordered, 1):
        last = number == len(ordered)
        branch = "" if top else ("└─ " if last else "├─ ")
        rows.append((indent + branch + child.name, child))
        _tree_rows(children, child.span_id, indent if top else indent + ("   " if last else "│  "), False, rows)


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


def quantile(points: Iterable[ExportedPoint], fraction: float) -> float | None:
    """The `fraction` quantile (0.5 for the median) of histogram points added together, estimated within its bucket
    by linear interpolation, as Prometheus' histogram_quantile does, and kept within the recorded minimum and maximum.
    Points with other bucket bounds than the most counted ones are left out. None without any count."""
    by_bounds: dict[tuple[float, ...], list[ExportedPoint]] = defaultdict(list)
    for point in points:
        if point.count and len(point.bucket_counts) == len(point.bounds) + 1:
            by_bounds[tuple(point.bounds)].append(point)
    if not by_bounds:
        return None
    bounds, group = max(by_bounds.items(), key=lambda item: sum(p.count or 0 for p in item[1]))
    counts = [sum(column) for column in zip(*(p.bucket_counts for p in group), strict=True)]
    lows = [p.minimum for p in group if p.minimum is not None]
    highs = [p.maximum for p in group if p.maximum is not None]
    low, high = min(lows, default=None), max(highs, default=None)
    rank = fraction * sum(counts)
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = bounds[index - 1] if index > 0 else (low if low is not None else 0.0)
            upper = bounds[index] if index < len(bounds) else (high if high is not None else lower)
            if low is not None:
                lower = max(lower, low)
            if high is not None:
                upper = min(upper, high)
            return lower + (upper - lower) * (rank - seen) / count if upper > lower else lower
        seen += count
    return high


@dataclass
class _Row:
    """One line of the metrics table: a stage (model operation or step kind) and what ran in it."""

    points: list[ExportedPoint] = field(default_factory=list)
    seconds_per_unit: float = 1.0
    errors: float = 0
    tokens: dict[str, float] = field(default_factory=dict)
    documents: float | None = None


def _duration(value: float | None, seconds_per_unit: float = 1.0) -> str:
    if value is None:
        return "-"
    seconds = value * seconds_per_unit
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def _short(component: Any) -> str:
    return str(component).rsplit(".", 1)[-1]


def print_metrics(points: Iterable[ExportedPoint], out: Output = print) -> None:
    """Print one table: a row per stage and model or component with calls, errors, p50 and p95 latency (estimated
    from the histogram buckets), tokens in and out, and documents; then the totals of the counters."""
    current = current_points(points)
    rows: dict[tuple[str, str], _Row] = defaultdict(_Row)
    counters: dict[str, float] = defaultdict(float)
    error_types: dict[str, float] = defaultdict(float)
    for point in current:
        attrs = point.attributes
        model = str(attrs.get(GEN_AI_REQUEST_MODEL, ""))
        operation = str(attrs.get(GEN_AI_OPERATION_NAME, "model"))
        if point.metric == METRIC_OPERATION_DURATION:
            row = rows[(operation, model)]
            row.points.append(point)
            row.errors += point.count or 0 if ERROR_TYPE in attrs else 0
        elif point.metric == METRIC_TIME_TO_FIRST_CHUNK:
            rows[("first chunk", model)].points.append(point)
        elif point.metric == METRIC_TOKEN_USAGE:
            tokens = rows[(operation, model)].tokens
            kind = str(attrs.get(GEN_AI_TOKEN_TYPE, ""))
            tokens[kind] = tokens.get(kind, 0) + (point.sum or 0)
        elif point.metric in _STAGE_OF_DURATION:
            row = rows[(_STAGE_OF_DURATION[point.metric], _short(attrs.get(KOTAEMON_COMPONENT, "")))]
            row.points.append(point)
            row.errors += point.count or 0 if ERROR_TYPE in attrs else 0
        elif point.metric in _STAGE_OF_DOCUMENTS:
            row = rows[(_STAGE_OF_DOCUMENTS[point.metric], _short(attrs.get(KOTAEMON_COMPONENT, "")))]
            documents = point.sum if point.count is not None else point.value  # a histogram or a counter
            row.documents = (row.documents or 0) + (documents or 0)
        elif point.count is not None and point.unit in _SECONDS_PER_UNIT:  # another instrumentation's durations
            row = rows[(point.metric, model)]
            row.points.append(point)
            row.seconds_per_unit = _SECONDS_PER_UNIT[point.unit]
        else:
            total = point.count if point.count is not None else (point.value or 0)
            counters[point.metric] += total
            if point.metric == METRIC_ERRORS:
                error_types[str(attrs.get(ERROR_TYPE, "?"))] += total
    out("\nmetrics")
    header = ("stage", "model or component", "calls", "errors", "p50", "p95", "tokens in", "tokens out", "docs")
    table = [header]
    for (stage, name), row in sorted(rows.items(), key=lambda item: (_stage_order(item[0][0]), item[0])):
        calls = sum(p.count or 0 for p in row.points)
        table.append(
            (
                stage,
                name or "-",
                f"{calls:g}" if row.points else "-",
                f"{row.errors:g}" if row.errors else "-",
                _duration(quantile(row.points, 0.5), row.seconds_per_unit),
                _duration(quantile(row.points, 0.95), row.seconds_per_unit),
                f"{row.tokens['input']:g}" if "input" in row.tokens else "-",
                f"{row.tokens['output']:g}" if "output" in row.tokens else "-",
                f"{row.documents:g}" if row.documents is not None else "-",
            )
        )
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        cells = [f"{cell:<{widths[i]}}" if i < 2 else f"{cell:>{widths[i]}}" for i, cell in enumerate(line)]
        out(("  " + "  ".join(cells)).rstrip())
    if counters:
        totals = []
        for metric, total in sorted(counters.items()):
            kinds = ", ".join(f"{kind} {count:g}" for kind, count in sorted(error_types.items()))
            totals.append(f"{metric}={total:g}" + (f" ({kinds})" if metric == METRIC_ERRORS and kinds else ""))
        out("  counters: " + "  ".join(totals))


def _stage_order(stage: str) -> int:
    return _STAGES.index(stage) if stage in _STAGES else len(_STAGES)


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
