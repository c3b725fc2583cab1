"""Delivery through the real SDK and its real OTLP exporters, as the configurator builds them, against local
receivers: kept and sent again while the collector is away, Retry-After honoured, bad data dropped, the bound kept,
one line at exit for what was not delivered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from opentelemetry_instrumentation_kotaemon import attributes as attr
from opentelemetry_instrumentation_kotaemon.sdk.delivery.delivery import (
    FIRST_BACKOFF,
    DeliveringSpanExporter,
    _instruments,
)
from opentelemetry_instrumentation_kotaemon.sdk.shims import import_exporters_with_bounded_retries
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.restartable_collector import free_port

PROTOCOLS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}


def _exporter(signal: str, protocol: str) -> Any:
    """The exporter the configurator builds for `signal` over `protocol`, from the environment."""
    names: list[list[str]] = [[], [], []]
    names[("traces", "metrics", "logs").index(signal)] = [PROTOCOLS[protocol]]
    exporters = import_exporters_with_bounded_retries(*names)[("traces", "metrics", "logs").index(signal)]
    return next(iter(exporters.values()))()


class Spans:
    """A tracer provider exporting through our delivery; `emit(n)` ends n spans, `close()` shuts it down."""

    def __init__(self, protocol: str) -> None:
        self.exporter = _exporter("traces", protocol)
        assert isinstance(self.exporter, DeliveringSpanExporter)
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter, schedule_delay_millis=50))
        self.count = 0

    def emit(self, count: int = 1) -> None:
        tracer = self.provider.get_tracer("delivery-test")
        for _ in range(count):
            with tracer.start_as_current_span(f"span-{self.count}"):
                self.count += 1
        self.provider.force_flush()

    @property
    def pending(self) -> int:
        return self.exporter.delivery.store.pending()[1]

    def close(self) -> None:
        self.provider.shutdown()


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryMetricReader]:
    """Our export metrics, read from an in-memory reader."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr("opentelemetry.metrics.get_meter", provider.get_meter)
    _instruments.cache_clear()  # made once per process; here once per test, on this test's provider
    yield reader
    provider.shutdown()
    _instruments.cache_clear()


def _sums(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
    data = reader.get_metrics_data()
    found: dict[tuple[tuple[str, Any], ...], int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = int(point.value)
    return found


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if text in record.getMessage()]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def test_a_503_with_retry_after_is_waited_for_then_everything_arrives(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, metrics: Any
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    receiver.status, receiver.retry_after = 503, "2"
    spans = Spans("http/protobuf")
    try:
        spans.emit(3)
        _wait(lambda: spans.pending == 3)
        receiver.status = 200
        _wait(lambda: len(receiver.spans) == 3)
    finally:
        spans.close()
    times = [at for at, path, _ in receiver.requests if path == "/v1/traces"]
    assert times[1] - times[0] >= 1.9, times  # our own first wait is 0.5 s
    assert FIRST_BACKOFF * 1.2 < 1.9
    assert len(_lines(caplog, "Could not export traces")) == 1
    resumed = _lines(caplog, "resumed: delivered 3 spans held during a")
    assert resumed and f"{receiver.endpoint}/v1/traces" in resumed[0]
    signal = ((attr.KOTAEMON_EXPORT_SIGNAL, "traces"),)
    assert _sums(metrics, attr.METRIC_EXPORT_QUEUED)[signal] == 3
    assert _sums(metrics, attr.METRIC_EXPORT_DELIVERED_AFTER_RETRY)[signal] == 3
    assert _sums(metrics, attr.METRIC_EXPORT_RETRIED)[signal] >= 3


def test_a_400_is_dropped_and_counted_never_sent_again(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, metrics: Any
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    receiver.status = 400
    spans = Spans("http/protobuf")
    try:
        spans.emit(2)
        time.sleep(FIRST_BACKOFF * 3)
        assert spans.pending == 0
    finally:
        spans.close()
    assert len([r for r in receiver.requests if r[1] == "/v1/traces"]) == 1
    assert _lines(caplog, "rejected 2 spans (HTTP 400")
    key = ((attr.ERROR_TYPE, attr.DROP_REASON_BAD_DATA), (attr.KOTAEMON_EXPORT_SIGNAL, "traces"))
    assert _sums(metrics, attr.METRIC_EXPORT_DROPPED)[key] == 2


def test_past_the_bound_the_oldest_are_dropped_and_reported(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, metrics: Any
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES", "600")  # a few one-span batches
    receiver.status = 503
    spans = Spans("http/protobuf")
    try:
        for _ in range(12):
            spans.emit(1)
        held = spans.pending
        assert 0 < held < 12
        receiver.status = 200
        _wait(lambda: len(receiver.spans) == held)
    finally:
        spans.close()
    arrived = sorted(int(span.name.split("-")[1]) for span in receiver.spans)
    assert arrived == list(range(12 - held, 12)), arrived  # the newest kept, the oldest dropped
    assert _lines(caplog, "the oldest are dropped to stay within OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES=600")
    assert _lines(caplog, f"({12 - held:,} dropped past the bound)")
    key = ((attr.ERROR_TYPE, attr.DROP_REASON_BOUND), (attr.KOTAEMON_EXPORT_SIGNAL, "traces"))
    assert _sums(metrics, attr.METRIC_EXPORT_DROPPED)[key] == 12 - held


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_with_the_collector_down_at_exit_one_line_says_what_was_not_delivered(
    protocol: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    spans = Spans(protocol)
    logs = LoggerProvider()
    logs.add_log_record_processor(BatchLogRecordProcessor(_exporter("logs", protocol), schedule_delay_millis=50))
    spans.emit(4)
    app_logger = logging.getLogger("delivery-test-app")
    handler = LoggingHandler(logger_provider=logs)
    app_logger.addHandler(handler)
    try:
        app_logger.warning("held")
    finally:
        app_logger.removeHandler(handler)
    logs.force_flush()
    started = time.monotonic()
    logs.shutdown()
    spans.close()
    assert time.monotonic() - started < 2.0
    lines = _lines(caplog, "not delivered: the collector")
    assert lines == [f"1 log record, 4 spans not delivered: the collector at {endpoint} did not answer"], caplog.text


class _Unavailable(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """A gRPC collector that answers UNAVAILABLE with a RetryInfo of 2 s `refusals` times, then takes the data."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls: list[float] = []
        self.spans = 0

    def Export(self, request: Any, context: Any) -> Any:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.refusals:
            info = RetryInfo()
            info.retry_delay.seconds = 2
            context.set_trailing_metadata((("google.rpc.retryinfo-bin", info.SerializeToString()),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        self.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_grpc_unavailable_with_retry_info_is_waited_for_then_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = _Unavailable(refusals=1)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    spans = Spans("grpc")
    try:
        spans.emit(2)
        _wait(lambda: collector.spans == 2)
    finally:
        spans.close()
        server.stop(None)
    assert collector.calls[1] - collector.calls[0] >= 1.9


@pytest.mark.parametrize("status", [200, 503])
def test_a_held_payload_is_sent_from_the_environment_as_the_sdk_would(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from opentelemetry_instrumentation_kotaemon.sdk.delivery.transport import Result, send_payload

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    receiver.status, receiver.retry_after = status, "3"
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="held", trace_id=b"t" * 16, span_id=b"s" * 8)
    outcome = send_payload("traces", request.SerializeToString())
    if status == 200:
        assert outcome.result is Result.DELIVERED and [span.name for span in receiver.spans] == ["held"]
    else:
        assert outcome.result is Result.RETRY and outcome.retry_after == 3.0
