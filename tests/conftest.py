"""Shared fixtures: the local OpenAI-compatible server and in-process instrumentation with in-memory readers.

Each test gets the marker of its folder (`unit`, `integration`, `e2e`, `ops`), so `pytest -m unit` runs one layer.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

try:  # SDK >= 1.40 renamed it
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:
    from opentelemetry.sdk._logs.export import InMemoryLogExporter  # type: ignore[no-redef]
from tests.support.openai_server import OpenAIServer

LAYERS = ("unit", "integration", "e2e", "ops")
TESTS = Path(__file__).resolve().parent
# fixtures that start a server: a unit test must not need one
_SERVER_FIXTURES = {"openai_server", "server"}


def pytest_configure(config: pytest.Config) -> None:
    """Apps under test are stopped with Ctrl+C (SIGINT). A suite started as a background job of a non-interactive
    shell ignores SIGINT, and so would every app it starts: give it back its default handler, as in a terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its folder's layer; a test outside the layer folders, or a unit test that starts a
    server, is a collection error."""
    for item in items:
        path = Path(str(item.path)).resolve()
        layer = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if layer not in LAYERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/<layer>/, one of {', '.join(LAYERS)}")
        if layer == "unit" and _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid}: a unit test starts no server; move it to tests/integration/")
        item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@dataclass
class Captured:
    """What the instrumentation exported in this test, read back from in-memory readers."""

    spans_exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader
    log_exporter: InMemoryLogExporter
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        """Every data point of metric `name` collected so far."""
        data = self.metric_reader.get_metrics_data()
        found = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def logs(self) -> list[Any]:
        return [record.log_record for record in self.log_exporter.get_finished_logs()]


@pytest.fixture
def instrument(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Captured]]:
    """Call with environment variables to instrument in process; uninstrumented after the test."""
    instrumentor = KotaemonInstrumentor()

    def start(**env: str) -> Captured:
        ours = ("OTEL_KOTAEMON_", "OTEL_INSTRUMENTATION_GENAI_", "OTEL_SEMCONV_")
        for key in [k for k in os.environ if k.startswith(ours)]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        reader = InMemoryMetricReader()
        logs = InMemoryLogExporter()
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        meter_provider = MeterProvider(metric_readers=[reader])
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        return Captured(spans, reader, logs, tracer_provider, meter_provider)

    yield start
    instrumentor.uninstrument()
