"""Export failures reported in a few clear lines instead of a retry log or a traceback per batch.

When the collector is down, the OTLP exporters and batch processors log every failed attempt (and SDK 1.27 a full
traceback per batch). A filter on their loggers lets the first failure of each signal through as one line that names
the endpoint and what to check, then keeps quiet about that signal for a while. The app is never affected either way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.sdk._logs._internal.export",
)
_SIGNALS = (
    ("trace", "TRACES", "traces"),
    ("span", "TRACES", "traces"),
    ("metric", "METRICS", "metrics"),
    ("log", "LOGS", "logs"),
)
QUIET_SECONDS = 300.0
"""After reporting a signal's export failure, further failures of that signal are not logged for this long."""


def _signal(record: logging.LogRecord) -> tuple[str, str]:
    text = f"{record.name} {record.getMessage()}".lower()
    for marker, variable, path in _SIGNALS:
        if marker in text:
            return variable, path
    return "TRACES", "traces"


def endpoint(variable: str, path: str) -> str:
    """The endpoint the exporter of a signal sends to, from the same variables it reads."""
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{variable}_ENDPOINT")
    if specific:
        return specific
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    protocol = os.environ.get(f"OTEL_EXPORTER_OTLP_{variable}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        return base or "http://localhost:4317"
    return f"{(base or 'http://localhost:4318').rstrip('/')}/v1/{path}"


class ExportErrorFilter(logging.Filter):
    """Lets one clear line through per signal and quiet period; drops the rest of the export failure noise."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._quiet_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            variable, path = _signal(record)
            now = self._clock()
            with self._lock:
                if now < self._quiet_until.get(variable, 0.0):
                    return False
                self._quiet_until[variable] = now + QUIET_SECONDS
            cause = record.exc_info[1] if record.exc_info else None
            detail = f"{type(cause).__name__}: {cause}" if cause is not None else record.getMessage()
            record.msg = (
                "Could not export %s to %s (%s). The app is not affected. Check that the collector is running, "
                "reachable there (OTEL_EXPORTER_OTLP_ENDPOINT) and not overloaded; further export errors for %s are "
                "not logged for %d s."
            )
            detail = detail if len(detail) <= 200 else detail[:200] + "..."
            record.args = (path, endpoint(variable, path), detail, path, int(QUIET_SECONDS))
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        except Exception:  # a record we cannot rewrite goes out as it came
            return True
        return True


def install() -> ExportErrorFilter:
    """Put one filter on every exporter and batch-processor logger of the SDK."""
    error_filter = ExportErrorFilter()
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(error_filter)
    return error_filter
