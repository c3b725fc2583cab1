"""The `kotaemon_file` exporters in process, on the real SDK: what they write, read back by the viewer; threads, forks
and a file that cannot be written."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from opentelemetry_instrumentation_kotaemon import settings
from opentelemetry_instrumentation_kotaemon.cli.view import ExportedTelemetry, read_file
from opentelemetry_instrumentation_kotaemon.sdk.file_exporter import (
    FileLogExporter,
    FileMetricExporter,
    FileSpanExporter,
    _JsonLinesFile,
)
from opentelemetry_instrumentation_kotaemon.settings import DEFAULT_FILE_PATH, OTEL_KOTAEMON_FILE_PATH, read_file_path

RESOURCE = Resource.create({"service.name": "file-test"})


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The exporters' file, set through our variable."""
    target = tmp_path / "telemetry.jsonl"
    monkeypatch.setenv(OTEL_KOTAEMON_FILE_PATH, str(target))
    yield target


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "_warned", set())
    monkeypatch.setattr(_JsonLinesFile, "_warned", set())
    monkeypatch.setattr(_JsonLinesFile, "_mode_warned", set())


def _tracer(exporter: FileSpanExporter) -> trace.Tracer:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("file-test")


def _read(path: Path) -> ExportedTelemetry:
    notes: list[str] = []
    telemetry = read_file(str(path), notes.append)
    assert notes == []
    return telemetry


def test_all_three_signals_are_written_as_otlp_json_lines_and_read_back(path: Path) -> None:
    tracer = _tracer(FileSpanExporter())
    with tracer.start_as_current_span("pipeline", attributes={"count": 3, "scores": [0.5, 0.25], "ok": True}) as root:
        with tracer.start_as_current_span("chat m", kind=trace.SpanKind.CLIENT) as child:
            child.set_attribute("gen_ai.request.model", "m")
            child.add_event("retry", {"attempt": 2})
            child.set_status(trace.StatusCode.ERROR, "boom")
        log_provider = LoggerProvider(resource=RESOURCE)
        log_provider.add_log_record_processor(SimpleLogRecordProcessor(FileLogExporter()))
        with warnings.catch_warnings():  # the SDK's handler is deprecated on newer releases, and still works
            warnings.simplefilter("ignore", DeprecationWarning)
            handler = LoggingHandler(logger_provider=log_provider)
        app_logger = logging.getLogger("tests.file_exporter.app")
        app_logger.propagate = False
        app_logger.addHandler(handler)
        try:
            app_logger.warning("disk %s", "full")
        finally:
            app_logger.removeHandler(handler)
    reader = PeriodicExportingMetricReader(FileMetricExporter(), export_interval_millis=600_000)
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = meter_provider.get_meter("file-test")
    meter.create_counter("calls", unit="{call}").add(3, {"gen_ai.request.model": "m"})
    meter.create_histogram("latency", unit="s").record(0.5)
    meter_provider.shutdown()  # exports once

    lines = path.read_text().splitlines()
    assert [next(iter(json.loads(line))) for line in lines] == [
        "resourceSpans",
        "resourceLogs",
        "resourceSpans",
        "resourceMetrics",
    ]
    telemetry = _read(path)
    child_span, root_span = telemetry.spans
    assert root_span.trace_id == format(root.get_span_context().trace_id, "032x")
    assert root_span.span_id == format(root.get_span_context().span_id, "016x")
    assert child_span.parent_id == root_span.span_id and child_span.trace_id == root_span.trace_id
    assert root_span.attributes == {"count": 3, "scores": [0.5, 0.25], "ok": True}
    assert root_span.resource["service.name"] == "file-test" and root_span.scope == "file-test"
    assert (child_span.name, child_span.kind, child_span.is_error, child_span.status_message) == (
        "chat m",
        trace.SpanKind.CLIENT.value + 1,  # OTLP numbers kinds from 1 (INTERNAL)
        True,
        "boom",
    )
    assert child_span.events == [("retry", {"attempt": 2})]
    assert root_span.start <= child_span.start <= child_span.end <= root_span.end
    (record,) = telemetry.logs
    assert (record.body, record.severity) == ("disk full", "WARN")
    assert (record.trace_id, record.span_id) == (root_span.trace_id, root_span.span_id)
    calls, latency = sorted(telemetry.points, key=lambda point: point.metric)
    assert (calls.metric, calls.unit, calls.value) == ("calls", "{call}", 3)
    assert calls.attributes == {"gen_ai.request.model": "m"}
    assert (latency.count, latency.sum, latency.delta) == (1, 0.5, False)
    assert latency.bounds and calls.start and calls.time >= calls.start


def test_threads_append_whole_lines(path: Path) -> None:
    tracer = _tracer(FileSpanExporter())
    threads_count, spans_per_thread = 8, 60

    def work(number: int) -> None:
        for index in range(spans_per_thread):
            with tracer.start_as_current_span(f"t{number}-{index}", attributes={"padding": "x" * 2000}):
                pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text().splitlines()
    assert len(lines) == threads_count * spans_per_thread  # one line per export (one span each here)
    names = {span.name for span in _read(path).spans}
    assert names == {f"t{n}-{i}" for n in range(threads_count) for i in range(spans_per_thread)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_while_another_thread_writes_appends_too(path: Path) -> None:
    tracer = _tracer(FileSpanExporter())
    with tracer.start_as_current_span("parent before fork"):
        pass
    # another thread holds the write lock at the moment of the fork; the child must not wait for it forever
    with _JsonLinesFile._lock:
        pid = os.fork()
        if pid == 0:  # the child
            try:
                with tracer.start_as_current_span("child"):
                    pass
            finally:
                os._exit(0)
    deadline = time.monotonic() + 20
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if waited == (0, 0):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the write lock")
    with tracer.start_as_current_span("parent after fork"):
        pass
    assert sorted(span.name for span in _read(path).spans) == ["child", "parent after fork", "parent before fork"]


def test_a_file_that_cannot_be_written_warns_once_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "missing-directory" / "telemetry.jsonl"
    monkeypatch.setenv(OTEL_KOTAEMON_FILE_PATH, str(target))
    caplog.set_level(logging.DEBUG, logger="opentelemetry_instrumentation_kotaemon")
    exporter = FileSpanExporter()
    tracer = _tracer(exporter)
    _ = FileMetricExporter(), FileLogExporter()  # three exporters on the same file, as with all signals chosen
    with tracer.start_as_current_span("lost"):
        pass
    span = TracerProvider().get_tracer("file-test").start_span("lost too")
    span.end()
    assert exporter.export([span]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    warnings_logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings_logged) == 1, warnings_logged
    assert str(target) in warnings_logged[0] and OTEL_KOTAEMON_FILE_PATH in warnings_logged[0]
    assert not target.exists()


def test_the_file_is_created_readable_by_its_owner_only(path: Path) -> None:
    previous = os.umask(0)  # the most permissive umask: the mode comes from the exporter alone
    try:
        exporter = FileSpanExporter()
        with _tracer(exporter).start_as_current_span("secret prompt"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _read(path).spans


def test_a_file_others_can_read_keeps_its_mode_and_warns_once(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path.write_text("")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_kotaemon"):
        FileSpanExporter()
        FileLogExporter()  # a second exporter on the same file: no second warning
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{path} can be read by other users (mode 644)") and "chmod 600" in warning


def test_an_empty_batch_writes_nothing(path: Path) -> None:
    FileSpanExporter().export([])
    assert path.exists() and path.read_text() == ""  # created at start-up, so that a bad path shows at once


def test_file_path_setting(tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.chdir(tmp_path)
    assert read_file_path({}) == str(tmp_path / DEFAULT_FILE_PATH)
    assert read_file_path({OTEL_KOTAEMON_FILE_PATH: " out/t.jsonl "}) == str(tmp_path / "out" / "t.jsonl")
    assert caplog.records == []
    assert read_file_path({OTEL_KOTAEMON_FILE_PATH: str(tmp_path)}) == str(tmp_path / DEFAULT_FILE_PATH)
    assert read_file_path({OTEL_KOTAEMON_FILE_PATH: "a\0b"}) == str(tmp_path / DEFAULT_FILE_PATH)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert all(m.startswith(OTEL_KOTAEMON_FILE_PATH) and DEFAULT_FILE_PATH in m for m in messages), messages
