"""An OTLP/HTTP protobuf receiver on 127.0.0.1 that keeps what it receives, decoded, for assertions.

`opentelemetry-test-utils` ships one only from 0.6x (pinned to the newest SDK), so Kotaemon's locked
environment (SDK 1.27) cannot use it; this one works with every `opentelemetry-proto` we support.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from opentelemetry_instrumentation_kotaemon.cli.view import (
    ExportedLogRecord,
    ExportedPoint,
    ExportedSpan,
    ExportedTelemetry,
)
from opentelemetry_instrumentation_kotaemon.sdk.file_exporter import to_otlp_json

# Short names for tests.
Span = ExportedSpan
Point = ExportedPoint
LogRecord = ExportedLogRecord

__all__ = ["LogRecord", "OtlpReceiver", "Point", "Span"]

_REQUESTS = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("content-length") or 0))
        status, latency = self.server.status, self.server.latency
        self.server.requests.append((time.monotonic(), self.path.rstrip("/"), status))
        if latency:
            time.sleep(latency)
        if status != 200:
            self.send_response(status)
            if self.server.retry_after is not None:
                self.send_header("retry-after", self.server.retry_after)
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
            self.server.receive(path, data, {key.lower(): value for key, value in self.headers.items()})
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

    A collector in trouble: set `status` (e.g. 503 or 429) to refuse every request with it (with `retry_after` as
    its `Retry-After` header when set), `latency` to answer each request that many seconds late; all can change while
    the receiver runs. `requests` lists the time (monotonic), path and status of every request.
    """

    daemon_threads = True
    request_queue_size = 128  # many clients may connect at once (concurrent calls, pools, exporters)

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.status = 200
        self.latency = 0.0
        self.retry_after: str | None = None
        self.requests: list[tuple[float, str, int]] = []
        self._received = ExportedTelemetry()
        self.headers: list[tuple[str, dict[str, str]]] = []
        """The path and HTTP headers of every export request."""
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

    @property
    def spans(self) -> list[Span]:
        return self._received.spans

    @property
    def points(self) -> list[Point]:
        return self._received.points

    @property
    def logs(self) -> list[LogRecord]:
        return self._received.logs

    def clear(self) -> None:
        with self._changed:
            self._received = ExportedTelemetry()
            self.headers.clear()

    def receive(self, path: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        """Decode one OTLP/HTTP request into the same records `opentelemetry-kotaemon view` reads from a file."""
        with self._changed:
            self.headers.append((path, headers or {}))
            self._changed.notify_all()
        for suffix, request_type in _REQUESTS.items():
            if path.endswith(suffix):
                request = request_type()
                request.ParseFromString(data)
                document = to_otlp_json(request)
                with self._changed:
                    if document:
                        self._received.add(document)
                    self._changed.notify_all()

    def wait_for_points(
        self, metric: str, where: Callable[[Point], bool] = lambda point: True, timeout: float = 10.0
    ) -> list[Point]:
        """Block until a point of `metric` that is `where` arrived (or the timeout passes); returns those points,
        oldest first."""

        def found() -> list[Point]:
            return [p for p in self.points if p.metric == metric and where(p)]

        with self._changed:
            self._changed.wait_for(lambda: bool(found()), timeout)
            return found()

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[Span]:
        """Block until at least `count` spans arrived (or the timeout passes); returns them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.spans) >= count, timeout)
            return list(self.spans)


@contextlib.contextmanager
def grpc_receiving(receiver: OtlpReceiver, port: int = 0) -> Iterator[str]:
    """OTLP/gRPC traces and logs received into `receiver` as well, on `port` (any free one by default); yields the
    gRPC endpoint."""
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            receiver.receive("/v1/traces", request.SerializeToString())
            return trace_service_pb2.ExportTraceServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            receiver.receive("/v1/logs", request.SerializeToString())
            return logs_service_pb2.ExportLogsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.stop(None)
