"""An OTLP receiver that can be stopped and started again on the same port (a collector restarting), over
http/protobuf or gRPC, keeping everything it received across restarts, decoded for assertions."""

from __future__ import annotations

import contextlib
import socket
import threading
from concurrent import futures
from typing import Any

from opentelemetry_instrumentation_kotaemon.cli.view import ExportedSpan, ExportedTelemetry
from opentelemetry_instrumentation_kotaemon.sdk.file_exporter import to_otlp_json
from tests.support.otlp_receiver import OtlpReceiver


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _ClosingReceiver(OtlpReceiver):
    """Drops its open (keep-alive) connections when stopped, as a collector that goes away does."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._connections: list[socket.socket] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        self._connections.append(request)
        super().process_request(request, client_address)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class RestartableCollector:
    """`start()` and `stop()` as often as needed; `endpoint` stays the same."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._telemetry = ExportedTelemetry()
        self._http: list[_ClosingReceiver] = []
        self._running: Any = None
        self._grpc_trace_bytes = 0

    @property
    def spans(self) -> list[ExportedSpan]:
        with self._lock:
            grpc_spans = list(self._telemetry.spans)
        return grpc_spans + [span for receiver in self._http for span in receiver.spans]

    def trace_bytes(self) -> int:
        """Bytes of the trace export requests received, as sent (before any compression is undone)."""
        http = sum(
            int(headers.get("content-length") or 0)
            for receiver in self._http
            for path, headers in receiver.headers
            if path.endswith("/v1/traces")
        )
        return http + self._grpc_trace_bytes

    def start(self) -> None:
        if self.protocol == "grpc":
            self._running = self._grpc_server()
        else:
            receiver = _ClosingReceiver(self.port)
            receiver.__enter__()
            self._http.append(receiver)
            self._running = receiver

    def stop(self) -> None:
        if self._running is None:
            return
        if self.protocol == "grpc":
            self._running.stop(grace=None).wait()
        else:
            self._running.__exit__(None, None, None)
        self._running = None

    def _add(self, request: Any) -> None:
        document = to_otlp_json(request)
        with self._lock:
            if document:
                self._telemetry.add(document)

    def _grpc_server(self) -> Any:
        import grpc
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        collector = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                collector._grpc_trace_bytes += request.ByteSize()
                collector._add(request)
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                collector._add(request)
                return logs_service_pb2.ExportLogsServiceResponse()

        # without port sharing: a listener of the stopped server that lingered would take connections otherwise
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        if server.add_insecure_port(f"127.0.0.1:{self.port}") != self.port:
            raise OSError(f"port {self.port} is still taken")
        server.start()
        return server

    def __enter__(self) -> RestartableCollector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
