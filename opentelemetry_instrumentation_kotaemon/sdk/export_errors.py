"""Export trouble reported in a few clear lines instead of a retry log or a traceback per batch.

Traces and logs are sent by our delivery (see `delivery`), which sees each result itself and reports an outage and its
end. Metrics go through the SDK's exporter, inside `exporting("metrics")`: a filter on the SDK's exporter and
batch-processor loggers knows from that marker, not from the text, which signal a record is about, and sorts warnings:
- export failures (inside the marker): the first of each signal goes through as one line that names the endpoint and
  what to check, then that signal's failures are not logged for a while;
- spans or log records dropped because the export queue is full (the app makes them faster than the collector takes
  them): reported as drops, with a running count and the variable that sets the queue size, at most one line per
  signal every few seconds, and the drops of a burst that ended between two lines are reported all the same;
- anything else goes through unchanged.
The app is never affected either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
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
_VARIABLES = {"traces": "TRACES", "metrics": "METRICS", "logs": "LOGS"}
# SDK 1.27: "Queue is full, likely spans will be dropped." (once per processor); 1.28 and later: "Queue full, dropping
# Span." / "... Log." / "... LogRecord." (once per item dropped).
_QUEUE_FULL = re.compile(r"queue (is )?full", re.IGNORECASE)
_FIRST_DROP_ONLY = "likely spans will be dropped"
_QUEUE_SIZE_VARIABLES = {"traces": "OTEL_BSP_MAX_QUEUE_SIZE", "logs": "OTEL_BLRP_MAX_QUEUE_SIZE"}
_DEFAULT_QUEUE_SIZE = 2048

QUIET_SECONDS = 300.0
"""After reporting a signal's export failure, further failures of that signal are not logged for this long."""
DROP_REPORT_SECONDS = 10.0
"""At most one line about dropped spans (or log records) this often; drops in between are counted and reported."""

logger = logging.getLogger(__name__)


_exporting = threading.local()


@contextlib.contextmanager
def exporting(signal: str) -> Iterator[None]:
    """Marks what the current thread logs meanwhile as being about exporting `signal`."""
    previous = getattr(_exporting, "signal", None)
    _exporting.signal = signal
    try:
        yield
    finally:
        _exporting.signal = previous


def _dropped_signal(record: logging.LogRecord, message: str) -> str:
    """Which signal's queue a queue-full record is about: the processor says "span" or "log" (no endpoint here)."""
    text = message.lower()
    if "span" in text:
        return "traces"
    if "log" in text or "_logs" in record.name:
        return "logs"
    return "traces"


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
            signal = getattr(_exporting, "signal", None)
            if signal is not None:
                return self._export_failed(record, signal)
        except Exception:  # a record we cannot read or rewrite goes out as it came
            return True
        return True

    # --- export failures

    def failure_line(self, signal: str, detail: str) -> str | None:
        """The line for a failed export of `signal`, or None within the quiet period after the last one."""
        now = self._clock()
        with self._lock:
            if now < self._quiet_until.get(signal, 0.0):
                return None
            self._quiet_until[signal] = now + QUIET_SECONDS
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        return (
            f"Could not export {signal} to {endpoint(_VARIABLES[signal], signal)} ({without_userinfo(detail)}). The "
            "app is not affected. Check that the collector is running, reachable there (OTEL_EXPORTER_OTLP_ENDPOINT) "
            f"and not overloaded; further export errors for {signal} are not logged for {int(QUIET_SECONDS)} s."
        )

    def _export_failed(self, record: logging.LogRecord, signal: str) -> bool:
        cause = record.exc_info[1] if record.exc_info else None
        line = self.failure_line(signal, f"{type(cause).__name__}: {cause}" if cause else record.getMessage())
        if line is None:
            return False
        _rewrite(record, line, ())
        return True

    # --- dropped items

    def _dropped(self, record: logging.LogRecord, message: str) -> bool:
        path = _dropped_signal(record, message)
        variable = _VARIABLES[path]
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
    # formatted: the SDK's duplicate filter compares templates
    record.msg, record.args = text % args if args else text, ()
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None


_installed = ExportErrorFilter()


def report_export_failure(signal: str, detail: str) -> None:
    """Report a failed export of `signal` seen by its exporter (one line, then quiet for a while)."""
    line = _installed.failure_line(signal, detail)
    if line is not None:
        logger.warning(line)


def install() -> ExportErrorFilter:
    """Put one filter on every exporter and batch-processor logger of the SDK, first: from 1.28 the SDK's own filter on
    some of them passes one record of a kind every 20 s, and drops are counted from every record."""
    error_filter = _installed
    for name in _LOGGERS:
        filters = logging.getLogger(name).filters
        if error_filter not in filters:
            filters.insert(0, error_filter)
    return error_filter
