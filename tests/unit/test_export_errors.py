"""The export-error filter sorts the SDK's warnings: export failures, drops, and the rest (left as they are)."""

from __future__ import annotations

import logging

from opentelemetry_instrumentation_kotaemon.sdk.export_errors import DROP_REPORT_SECONDS, ExportErrorFilter, exporting


def _record(message: str, *args: object, name: str = "opentelemetry.sdk.trace.export") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args or None, None)


def test_other_warnings_pass_unchanged_and_do_not_hide_a_failure_after_them() -> None:
    error_filter = ExportErrorFilter(clock=lambda: 1000.0)
    for message in (
        "Can't shutdown multiple times",
        "Already shutdown, dropping span.",
        "Found invalid value for export interval, using default",
        "Timeout was exceeded in force_flush().",
    ):
        record = _record(message, name="opentelemetry.sdk.metrics._internal.export")
        assert error_filter.filter(record) and record.getMessage() == message
    failure = _record("Failed to export span batch code: %s, reason: %s", 503, "unavailable")
    with exporting("traces"):
        assert error_filter.filter(failure) and "Could not export traces" in failure.getMessage()


def test_drops_are_counted_and_reported_at_most_once_per_interval_even_after_the_burst() -> None:
    now = [1000.0]
    reported: list[str] = []
    error_filter = ExportErrorFilter(clock=lambda: now[0], report=reported.append)
    first = _record("Queue full, dropping %s.", "Span", name="opentelemetry.sdk._shared_internal")
    assert error_filter.filter(first)
    assert first.getMessage().startswith("Dropped 1 spans so far (1 new)")
    assert "Raise OTEL_BSP_MAX_QUEUE_SIZE" in first.getMessage()
    for _ in range(9):
        assert not error_filter.filter(_record("Queue full, dropping %s.", "Span"))
    now[0] += DROP_REPORT_SECONDS
    error_filter._report_pending("TRACES", "traces")  # what the timer does when the burst has ended
    assert reported and reported[-1].startswith("Dropped 10 spans so far (9 new)")
    log_drop = _record("Queue full, dropping %s.", "Log", name="opentelemetry.sdk._shared_internal")
    assert error_filter.filter(log_drop) and "OTEL_BLRP_MAX_QUEUE_SIZE" in log_drop.getMessage()
    failure = _record("Exception while exporting %s.", "Span", name="opentelemetry.sdk._shared_internal")
    with exporting("traces"):
        assert error_filter.filter(failure) and "Could not export traces" in failure.getMessage()


def test_sdk_1_27_says_spans_are_dropped_once_without_a_count() -> None:
    record = _record("Queue is full, likely spans will be dropped.")
    assert ExportErrorFilter().filter(record)
    assert record.getMessage().startswith("Dropping spans: the export queue (OTEL_BSP_MAX_QUEUE_SIZE=")
