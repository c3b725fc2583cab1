"""Export trouble reported in a few clear lines instead of a retry log or a traceback per batch.

A filter on the SDK's exporter and batch-processor loggers sorts their warnings into three kinds:
- export failures (the collector refused, failed or did not answer): the first of each signal goes through as one line
  that names the endpoint and what to check, then that signal's failures are not logged for a while;
- spans or log records dropped because the export queue is full (the app makes them faster than the collector takes
  them): reported as drops, with a running count and the variable that sets the queue size, at most one line per
  signal every few seconds, and the drops of a burst that ended between two lines are reported all the same;
- anything else goes through unchanged.
The app is never affected either way.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..settings import without_userinfo

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
# SDK 1.27: "Queue is full, likely spans will be dropped." (once per processor); 1.28 and later: "Queue full, dropping
# Span." / "... Log." (once per item dropped).
_QUEUE_FULL = re.compile(r"queue (is )?full", re.IGNORECASE)
_FIRST_DROP_ONLY = "likely spans will be dropped"
# The exporters' and processors' words for an export that did not reach the collector, in SDK 1.27 to 1.45.
_EXPORT_FAILED = re.compile(
    r"failed to export|exception while exporting|encountered while exporting|retrying in|max retries|aborting retry",
    re.IGNORECASE,
)
_QUEUE_SIZE_VARIABLES = {"traces": "OTEL_BSP_MAX_QUEUE_SIZE", "logs": "OTEL_BLRP_MAX_QUEUE_SIZE"}
_DEFAULT_QUEUE_SIZE = 2048

QUIET_SECONDS = 300.0
"""After reporting a signal's export failure, further failures of that signal are not logged for this long."""
DROP_REPORT_SECONDS = 10.0
"""At most one line about dropped spans (or log records) this often; drops in between are counted and reported."""

logger = logging.getLogger(__name__)


def _signal(record: logging.LogRecord) -> tuple[str, str]:
    text = f"{record.name} {record.getMessage()}".lower()
    for marker, variable, path in _SIGNALS:
        if marker in text:
            return variable, path
    return "TRACES", "traces"


def endpoint(variable: str, path: str) -> str:
    """The endpoint the exporter of a signal sends to, from the same variables it reads, as messages show it (no
    `user:password@`)."""
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{variable}_ENDPOINT")
    if specific:
        return without_userinfo(specific)
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    protocol = os.environ.get(f"OTEL_EXPORTER_OTLP_{variable}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"
    )
    if protocol == "grpc":
        return without_userinfo(base or "http://localhost:4317")
    return without_userinfo(f"{(base or 'http://localhost:4318').rstrip('/')}/v1/{path}")


@dataclass
class _Drops:
    """What is known of one signal's dropped items."""

    total: int = 0
    reported: int = 0
    next_report: float = 0.0
    pending: bool = False


class ExportErrorFilter(logging.Filter):
    """Rewrites export failures and queue-full drops into clear lines, rate-limited; lets other records through."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, report: Callable[[str], None] | None = None
    ) -> None:
        super().__init__()
        self._clock = clock
        self._report = report or logger.warning
        self._quiet_until: dict[str, float] = {}
        self._drops: dict[str, _Drops] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            message = record.getMessage()
            if _QUEUE_FULL.search(message):
                return self._dropped(record, message)
            if _EXPORT_FAILED.search(message):
                return self._export_failed(record)
        except Exception:  # a record we cannot read or rewrite goes out as it came
            return True
        return True

    # --- export failures

    def _export_failed(self, record: logging.LogRecord) -> bool:
        variable, path = _signal(record)
        now = self._clock()
        with self._lock:
            if now < self._quiet_until.get(variable, 0.0):
                return False
            self._quiet_until[variable] = now + QUIET_SECONDS
        cause = record.exc_info[1] if record.exc_info else None
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else record.getMessage()
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        _rewrite(
            record,
            "Could not export %s to %s (%s). The app is not affected. Check that the collector is running, reachable "
            "there (OTEL_EXPORTER_OTLP_ENDPOINT) and not overloaded; further export errors for %s are not logged "
            "for %d s.",
            (path, endpoint(variable, path), detail, path, int(QUIET_SECONDS)),
        )
        return True

    # --- dropped items

    def _dropped(self, record: logging.LogRecord, message: str) -> bool:
        variable, path = _signal(record)
        if _FIRST_DROP_ONLY in message:  # this SDK says so once, without a count
            _rewrite(record, *_drop_message(variable, path, None, 0))
            return True
        now = self._clock()
        with self._lock:
            drops = self._drops.setdefault(path, _Drops())
            drops.total += 1
            if now >= drops.next_report:
                text, args = _drop_message(variable, path, drops.total, drops.total - drops.reported)
                drops.reported, drops.next_report = drops.total, now + DROP_REPORT_SECONDS
            else:
                if not drops.pending:
                    drops.pending = True
                    timer = threading.Timer(drops.next_report - now, self._report_pending, (variable, path))
                    timer.daemon = True
                    timer.start()
                return False
        _rewrite(record, text, args)
        return True

    def _report_pending(self, variable: str, path: str) -> None:
        """Report the drops counted since the last line (the burst may have ended: no record would carry them)."""
        with self._lock:
            drops = self._drops[path]
            drops.pending = False
            if drops.total == drops.reported:
                return
            text, args = _drop_message(variable, path, drops.total, drops.total - drops.reported)
            drops.reported, drops.next_report = drops.total, self._clock() + DROP_REPORT_SECONDS
        try:
            self._report(text % args)
        except Exception:
            return


def _drop_message(variable: str, path: str, total: int | None, new: int) -> tuple[str, tuple[object, ...]]:
    """The line for dropped items: how many (when the SDK counts them), why, and what to raise."""
    items = "spans" if path == "traces" else "log records"
    queue_variable = _QUEUE_SIZE_VARIABLES.get(path, "the export queue size")
    size = os.environ.get(queue_variable, f"{_DEFAULT_QUEUE_SIZE} by default")
    count = f"Dropping {items}" if total is None else f"Dropped {total} {items} so far ({new} new)"
    return (
        "%s: the export queue (%s=%s) is full, the app makes them faster than they are exported to %s. The app is "
        "not affected. Raise %s, or export less (sampling, fewer log records).",
        (count, queue_variable, size, endpoint(variable, path), queue_variable),
    )


def _rewrite(record: logging.LogRecord, text: str, args: tuple[object, ...]) -> None:
    record.msg, record.args = text % args, ()  # formatted: the SDK's duplicate filter compares templates
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None


def install() -> ExportErrorFilter:
    """Put one filter on every exporter and batch-processor logger of the SDK, first: from 1.28 the SDK's own filter on
    some of them passes one record of a kind every 20 s, and drops are counted from every record."""
    error_filter = ExportErrorFilter()
    for name in _LOGGERS:
        filters = logging.getLogger(name).filters
        if error_filter not in filters:
            filters.insert(0, error_filter)
    return error_filter
