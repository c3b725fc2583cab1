"""Exporters that append telemetry to a local file, for debugging without a backend (entry point `kotaemon_file`).

Chosen per signal: `OTEL_TRACES_EXPORTER=kotaemon_file`, `OTEL_METRICS_EXPORTER=kotaemon_file`,
`OTEL_LOGS_EXPORTER=kotaemon_file`; the file is `OTEL_KOTAEMON_FILE_PATH`. Each export appends one line: an
ExportTraceServiceRequest, ExportMetricsServiceRequest or ExportLogsServiceRequest in the OTLP JSON encoding, as the
OpenTelemetry Collector's `file` exporter writes them, so `opentelemetry-kotaemon view` reads either.

Each line is one `write` to a file opened with O_APPEND, under a lock: threads, several exporters and forked children
can share the file without mixing lines. Nothing raises into the app: a file that cannot be written logs one warning.
The file is created readable by its owner only (0600: with content capture on it holds prompts and answers); a file
that already exists keeps its mode, with one warning when other users can read it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..settings import OTEL_KOTAEMON_FILE_PATH, read_file_path

try:  # SDK 1.39+ names
    from opentelemetry.sdk._logs.export import LogRecordExporter as _LogExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult as _LogExportResult
except ImportError:
    from opentelemetry.sdk._logs.export import LogExporter as _LogExporter  # type: ignore[assignment]
    from opentelemetry.sdk._logs.export import LogExportResult as _LogExportResult  # type: ignore[assignment]

logger = logging.getLogger(__name__)

# OTLP JSON writes these bytes fields as hex; the protobuf JSON mapping would write base64.
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})
_MODE = 0o600
"""The mode of a file the exporters create: readable and writable by its owner only."""
_Batch = TypeVar("_Batch")


def to_otlp_json(message: Any) -> dict[str, Any]:
    """An OTLP protobuf message in the OTLP JSON encoding: lowerCamelCase names, enums as numbers, ids as hex."""
    return _hex_ids(json_format.MessageToDict(message, use_integers_for_enums=True))  # type: ignore[no-any-return]


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in _ID_FIELDS and isinstance(item, str) else _hex_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


class _JsonLinesFile:
    """Appends one JSON document per line to a file, opened for each write (so forks and deleted files just work)."""

    _lock = threading.Lock()  # one for every file of the process: a line is short work
    _warned: set[str] = set()
    _mode_warned: set[str] = set()

    def __init__(self) -> None:
        self.path = read_file_path()
        if self._write(b""):  # create it now, so that a bad path is reported at start-up
            self._check_mode()

    def append(self, encode: Callable[[_Batch], Any], batch: _Batch) -> bool:
        """Write `batch`, turned into an OTLP export request by `encode`, as one line; False if it was not written."""
        try:
            document = to_otlp_json(encode(batch))
            if not document:  # nothing to export in this batch
                return True
            line = json.dumps(document, separators=(",", ":")).encode() + b"\n"
        except Exception:
            logger.debug("could not encode telemetry for %s", self.path, exc_info=True)
            return False
        return self._write(line)

    def _write(self, data: bytes) -> bool:
        try:
            with self._lock:  # released before reporting: the report may be logged to this very file
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _MODE)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(descriptor, view) :]
                finally:
                    os.close(descriptor)
        except OSError as error:
            self._report(error)
            return False
        return True

    def _check_mode(self) -> None:
        """Warn once when other users can read the file (one that existed before, with its own mode)."""
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:
            return
        if not mode & (stat.S_IRGRP | stat.S_IROTH) or self.path in self._mode_warned:
            return
        self._mode_warned.add(self.path)
        logger.warning(
            "%s can be read by other users (mode %o); with content capture on it holds prompts and answers. "
            "Restrict it (chmod 600), or remove it and it will be created readable by its owner only.",
            self.path,
            mode,
        )

    def _report(self, error: OSError) -> None:
        if self.path in self._warned:
            logger.debug("could not write telemetry to %s", self.path, exc_info=True)
            return
        self._warned.add(self.path)
        logger.warning(
            "cannot write telemetry to %s (%s=%s): %s; it is dropped",
            self.path,
            OTEL_KOTAEMON_FILE_PATH,
            os.environ.get(OTEL_KOTAEMON_FILE_PATH, "not set"),
            error.strerror or error,
        )


def _reset_lock_in_child() -> None:
    # a thread of the parent may have held the lock while it forked; that thread does not exist in the child
    _JsonLinesFile._lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


class FileSpanExporter(SpanExporter):  # type: ignore[misc]
    """Appends each batch of spans to the file as one ExportTraceServiceRequest line."""

    def __init__(self) -> None:
        self._file = _JsonLinesFile()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._file.append(encode_spans, spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Nothing to release: the file is closed after every line."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class FileMetricExporter(MetricExporter):  # type: ignore[misc]
    """Appends each collection of metrics (cumulative) to the file as one ExportMetricsServiceRequest line."""

    def __init__(self) -> None:
        super().__init__()
        self._file = _JsonLinesFile()

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = self._file.append(encode_metrics, metrics_data)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release: the file is closed after every line."""


class FileLogExporter(_LogExporter):  # type: ignore[misc]
    """Appends each batch of log records to the file as one ExportLogsServiceRequest line."""

    def __init__(self) -> None:
        self._file = _JsonLinesFile()

    def export(self, batch: Sequence[Any]) -> Any:
        ok = self._file.append(encode_logs, batch)
        return _LogExportResult.SUCCESS if ok else _LogExportResult.FAILURE

    def shutdown(self) -> None:
        """Nothing to release: the file is closed after every line."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
