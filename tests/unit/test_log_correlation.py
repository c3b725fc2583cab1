"""Trace ids on log records: the current span's, zeros outside a span, and the previous factory back on disable."""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace import TracerProvider

from opentelemetry_instrumentation_kotaemon.core.log_correlation import LogCorrelation


def test_records_carry_the_current_spans_ids_until_disabled() -> None:
    before = logging.getLogRecordFactory()
    correlation = LogCorrelation()
    correlation.enable()
    try:
        record = logging.getLogRecordFactory()("app", logging.INFO, __file__, 1, "outside", None, None)
        assert (record.otelTraceID, record.otelSpanID, record.otelTraceSampled) == ("0", "0", False)
        with TracerProvider().get_tracer("test").start_as_current_span("work") as span:
            inside = logging.getLogRecordFactory()("app", logging.INFO, __file__, 1, "inside", None, None)
        assert inside.otelTraceID == format(span.get_span_context().trace_id, "032x")
        assert inside.otelSpanID == format(span.get_span_context().span_id, "016x")
        assert inside.otelTraceSampled is True
    finally:
        correlation.disable()
    assert logging.getLogRecordFactory() is before
    plain = logging.getLogRecordFactory()("app", logging.INFO, __file__, 1, "after", None, None)
    assert not hasattr(plain, "otelTraceID")
