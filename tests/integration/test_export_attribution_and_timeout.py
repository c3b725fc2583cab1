"""Two defects of the export setup, each with the test that failed before its fix: a failure was attributed to a
signal by the words of its log record (the endpoint included), and the export timeout relied on the SDK reading
`OTEL_EXPORTER_OTLP_TIMEOUT` in seconds (the specification says milliseconds)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry_instrumentation_kotaemon.sdk import export_errors
from opentelemetry_instrumentation_kotaemon.sdk.shims import import_exporters_with_bounded_retries
from opentelemetry_instrumentation_kotaemon.settings import DISTRO_DEFAULTS

PROTOCOLS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}
SIGNALS = ("traces", "metrics", "logs")


def _exporter(signal: str, protocol: str) -> Any:
    """The exporter the configurator builds for `signal` over `protocol`, from the environment."""
    names: list[list[str]] = [[], [], []]
    names[SIGNALS.index(signal)] = [PROTOCOLS[protocol]]
    return next(iter(import_exporters_with_bounded_retries(*names)[SIGNALS.index(signal)].values()))()


def _timeout(exporter: Any) -> float:
    """The timeout in seconds an exporter (or the one our delivery wraps) sends with."""
    transport = getattr(getattr(exporter, "delivery", None), "transport", None)
    inner = getattr(transport, "exporter", exporter)
    client = getattr(inner, "_client", None)
    return float(getattr(inner, "_timeout", None) or client._timeout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_exporters_get_a_timeout_in_seconds_whatever_unit_the_sdk_reads_the_variable_in(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The distro no longer sets OTEL_EXPORTER_OTLP_TIMEOUT=1 (the specification says milliseconds, the SDKs read
    seconds): with it unset, every OTLP exporter is given 1 s through its constructor, in seconds everywhere."""
    for name in (
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    assert "OTEL_EXPORTER_OTLP_TIMEOUT" not in DISTRO_DEFAULTS  # nothing relies on the unit the SDK reads it in
    exporters = [_exporter(signal, protocol) for signal in SIGNALS]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "7")  # the user's own: read by the SDK
    users = _exporter("traces", protocol)
    try:
        assert [_timeout(exporter) for exporter in exporters] == [1.0, 1.0, 1.0]
        assert _timeout(users) == 7
    finally:
        for exporter in [*exporters, users]:
            exporter.shutdown()


def test_a_metric_export_failure_is_reported_as_metrics_whatever_its_endpoint_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The collector's name says traces; the failure is the metric exporter's: so the line says metrics, and trace
    failures are not muted by it."""
    endpoint = f"unix://{tmp_path}/otel-traces.sock"  # nothing listens
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    error_filter = export_errors.install()
    monkeypatch.setattr(error_filter, "_quiet_until", {})
    exporter = _exporter("metrics", "grpc")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("t").create_counter("c").add(1)
    try:
        with caplog.at_level(logging.WARNING):
            exporter.export(reader.get_metrics_data())
    finally:
        exporter.shutdown()
        provider.shutdown()
    lines = [record.getMessage() for record in caplog.records if "Could not export" in record.getMessage()]
    assert lines and all(line.startswith("Could not export metrics to ") for line in lines), lines
    assert len(lines) == 1
    assert error_filter.failure_line("traces", "a trace failure") is not None  # not muted by the metrics failure
