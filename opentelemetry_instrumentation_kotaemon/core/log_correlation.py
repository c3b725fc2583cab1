"""Trace ids on the app's log records, so that a log line and its trace link both ways.

Every record gets `otelTraceID`, `otelSpanID`, `otelTraceSampled` and `otelServiceName` (the names the OpenTelemetry
logging instrumentation uses, so formats such as `%(otelTraceID)s` work with either); ids are "0" outside a span.
The app's logging configuration is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import trace


class RecordFactoryHook:
    """A log record factory over the current one that passes every new record to `on_record`; `disable` puts the
    previous factory back."""

    def __init__(self) -> None:
        self._previous: Callable[..., logging.LogRecord] | None = None
        self._factory: Callable[..., logging.LogRecord] | None = None

    def enable(self) -> None:
        if self._factory is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if self._factory is factory:  # else disabled while another factory was set over this one
                self.on_record(record)
            return record

        self._previous, self._factory = previous, factory
        logging.setLogRecordFactory(factory)

    def disable(self) -> None:
        factory, self._factory = self._factory, None
        if factory is not None and logging.getLogRecordFactory() is factory and self._previous is not None:
            logging.setLogRecordFactory(self._previous)
        self._previous = None

    def on_record(self, record: logging.LogRecord) -> None:
        """Called with every record created while enabled; must never raise."""
        raise NotImplementedError


class LogCorrelation(RecordFactoryHook):
    """Adds the ids of the current span to every record."""

    def __init__(self) -> None:
        super().__init__()
        self._service_name = ""

    def on_record(self, record: logging.LogRecord) -> None:
        try:
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                record.otelTraceID = format(span_context.trace_id, "032x")
                record.otelSpanID = format(span_context.span_id, "016x")
                record.otelTraceSampled = span_context.trace_flags.sampled
            else:
                record.otelTraceID = record.otelSpanID = "0"
                record.otelTraceSampled = False
            record.otelServiceName = self._service_name or self._find_service_name()
        except Exception:  # a record without ids rather than a failed log call
            return

    def _find_service_name(self) -> str:
        resource = getattr(trace.get_tracer_provider(), "resource", None)
        name = str(resource.attributes.get("service.name", "")) if resource is not None else ""
        self._service_name = name  # kept once the SDK's provider is set up
        return name
