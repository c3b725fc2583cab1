"""One smoke run of an installed wheel, run by the Python of the venv it is installed in.

It starts the OpenAI-compatible test server and an OTLP/gRPC receiver (the venv's own grpcio and
opentelemetry-proto, which the default exporter brings) on 127.0.0.1, runs `examples/openai_app.py` under the venv's
`opentelemetry-instrument` with nothing but environment variables, and prints what arrived as one JSON object: the
app's exit code and output, each span with its scope and resource, the metric names, the count of log records.
Nothing of the repository is on the app's path: the package it runs is the installed one.

Usage: VENV/bin/python tests/install/smoke.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "openai_app.py"


def _load_openai_server() -> Any:
    """tests/support/openai_server.py (standard library only), loaded by path so the repository stays off sys.path."""
    spec = importlib.util.spec_from_file_location("openai_server", REPO / "tests" / "support" / "openai_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: getattr(pair.value, pair.value.WhichOneof("value") or "string_value") for pair in pairs}


class Received:
    """What the receiver got, for the three OTLP services."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[dict[str, Any]] = []
        self.metrics: set[str] = set()
        self.logs = 0

    def traces(self, request: Any) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    scope = {"scope": scope_spans.scope.name, "scope_version": scope_spans.scope.version}
                    self.spans += [{"name": span.name, **scope, "resource": resource} for span in scope_spans.spans]

    def metric_names(self, request: Any) -> None:
        with self.lock:
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    self.metrics.update(metric.name for metric in scope_metrics.metrics)

    def log_records(self, request: Any) -> None:
        with self.lock:
            self.logs += sum(len(scope.log_records) for logs in request.resource_logs for scope in logs.scope_logs)


def start_receiver(received: Received) -> tuple[grpc.Server, int]:
    class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.traces(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.metric_names(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.log_records(request)
            return logs_service_pb2.ExportLogsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def main() -> int:
    bin_dir = Path(sys.executable).parent
    received = Received()
    receiver, port = start_receiver(received)
    try:
        with _load_openai_server().OpenAIServer() as openai_server, tempfile.TemporaryDirectory() as work:
            environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "PYTHONPATH"))}
            environment.update(
                OTEL_SERVICE_NAME="wheel-smoke",
                OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                OTEL_METRIC_EXPORT_INTERVAL="600000",  # one export, at exit
                OPENAI_BASE_URL=openai_server.base_url,
                OPENAI_API_KEY="sk-smoke-not-a-key",
            )
            command = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python"), str(APP)]
            app = subprocess.run(command, env=environment, cwd=work, capture_output=True, text=True, timeout=120)
    finally:
        receiver.stop(grace=None)
    report = {
        "returncode": app.returncode,
        "stdout": app.stdout,
        "stderr": app.stderr,
        "spans": received.spans,
        "metrics": sorted(received.metrics),
        "logs": received.logs,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
