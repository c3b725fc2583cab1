"""Emitting GenAI events as OpenTelemetry log records, on every supported API version."""

from __future__ import annotations

import inspect
import time
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context

_TAKES_CONTEXT = "context" in inspect.signature(LogRecord.__init__).parameters


def emit_event(logger: Any, name: str, attributes: dict[str, Any], context: Context) -> None:
    """Emit event `name` with `attributes`, linked to the span current in `context`."""
    now = time.time_ns()
    if _TAKES_CONTEXT:
        logger.emit(
            LogRecord(  # type: ignore[call-arg]
                timestamp=now, observed_timestamp=now, context=context, attributes=attributes, event_name=name
            )
        )
        return
    # API < 1.28: the SDK wants its own record type, carrying the resource, a body and a severity
    from opentelemetry.sdk._logs import LogRecord as SdkLogRecord  # type: ignore[attr-defined]

    span_context = trace.get_current_span(context).get_span_context()
    logger.emit(
        SdkLogRecord(
            timestamp=now,
            observed_timestamp=now,
            trace_id=span_context.trace_id,
            span_id=span_context.span_id,
            trace_flags=span_context.trace_flags,
            resource=getattr(logger, "resource", None),
            body="",
            severity_number=SeverityNumber.INFO,
            attributes={**attributes, "event.name": name},
        )
    )
