"""An OTLP/HTTP protobuf receiver on 127.0.0.1 that keeps what it receives, decoded, for assertions.

`opentelemetry-test-utils` ships one only from 0.6x (pinned to the newest SDK), so Kotaemon's locked
environment (SDK 1.27) cannot use it; this one works with every `opentelemetry-proto` we support.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def any_value(value: Any) -> Any:
    """A protobuf AnyValue as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(items: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in items}


@dataclass
class Span:
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
        return self.status_code == 2


@dataclass
class Point:
    metric: str
    unit: str
    attributes: dict[str, Any]
    value: float | None = None  # sums and gauges
    count: int | None = None  # histograms
    sum: float | None = None
    bounds: list[float] = field(default_factory=list)
    scope: str = ""


@dataclass
class LogRecord:
    body: Any
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    event_name: str
    scope: str


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("content-length") or 0))
        status, latency = self.server.status, self.server.latency
        if latency:
            time.sleep(latency)
        if status != 200:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        encoding = (self.headers.get("content-encoding") or "").lower()
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        path = self.path.rstrip("/")
        try:
            self.server.receive(path, data)
        except Exception:
            self.send_response(400)
            self.send_header("content-length", "0")
            self.end_headers()
            raise
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()


class OtlpReceiver(ThreadingHTTPServer):
    """Receives `/v1/traces`, `/v1/metrics` and `/v1/logs`; point `OTEL_EXPORTER_OTLP_ENDPOINT` at `endpoint`.

    A collector in trouble: set `status` (e.g. 503 or 429) to refuse every request with it, `latency` to answer each
    request that many seconds late; both can change while the receiver runs.
    """

    daemon_threads = True
    request_queue_size = 128  # many clients may connect at once (concurrent calls, pools, exporters)

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.status = 200
        self.latency = 0.0
        self.spans: list[Span] = []
        self.points: list[Point] = []
        self.logs: list[LogRecord] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def clear(self) -> None:
        with self._changed:
            self.spans.clear()
            self.points.clear()
            self.logs.clear()

    def receive(self, path: str, data: bytes) -> None:
        with self._changed:
            if path.endswith("/v1/traces"):
                self._traces(data)
            elif path.endswith("/v1/metrics"):
                self._metrics(data)
            elif path.endswith("/v1/logs"):
                self._logs(data)
            self._changed.notify_all()

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[Span]:
        """Block until at least `count` spans arrived (or the timeout passes); returns them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.spans) >= count, timeout)
            return list(self.spans)

    def _traces(self, data: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(data)
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        Span(
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=attributes(span.attributes),
                            status_code=span.status.code,
                            status_message=span.status.message,
                            events=[(e.name, attributes(e.attributes)) for e in span.events],
                            resource=resource,
                            scope=scope_spans.scope.name,
                            start=span.start_time_unix_nano,
                            end=span.end_time_unix_nano,
                        )
                    )

    def _metrics(self, data: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(data)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                scope = scope_metrics.scope.name
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    if kind == "histogram":
                        for dp in metric.histogram.data_points:
                            self.points.append(
                                Point(
                                    metric.name,
                                    metric.unit,
                                    attributes(dp.attributes),
                                    count=dp.count,
                                    sum=dp.sum,
                                    bounds=list(dp.explicit_bounds),
                                    scope=scope,
                                )
                            )
                    elif kind in ("sum", "gauge"):
                        for dp in getattr(metric, kind).data_points:
                            value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                            self.points.append(
                                Point(
                                    metric.name,
                                    metric.unit,
                                    attributes(dp.attributes),
                                    value=value,
                                    scope=scope,
                                )
                            )

    def _logs(self, data: bytes) -> None:
        request = ExportLogsServiceRequest()
        request.ParseFromString(data)
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    attrs = attributes(record.attributes)
                    self.logs.append(
                        LogRecord(
                            body=any_value(record.body),
                            attributes=attrs,
                            trace_id=record.trace_id.hex(),
                            span_id=record.span_id.hex(),
                            event_name=getattr(record, "event_name", "") or str(attrs.get("event.name", "")),
                            scope=scope_logs.scope.name,
                        )
                    )
