"""App log export that survives the app resetting its logging.

`opentelemetry-instrument` exports app log records through a handler on the root logger (the SDK's, with
`OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true`, or the logging instrumentation's, with
`OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION=true`). An app that sets its logging up after start by clearing the root
logger's handlers (`logging.getLogger().handlers.clear()`, `dictConfig`, `basicConfig(force=True)`; Kotaemon's
proposed `setup_logging()` does) removes that handler too, and export stops without a word. The guard puts the same
handler back on the root logger when the next record is created, so that record and every later one are exported
through the same handler and provider (redaction and all), once each.

`dictConfig` (and `fileConfig`) flush every live handler while holding logging's lock. The SDK's handler before 1.35
waits for that flush, whose export thread needs the same lock to log: the app stalls for the flush timeout, 30 s
(opentelemetry-python #3193, fixed in 1.35 by flushing in a thread of its own). Once the guard keeps the handler alive,
that would now happen to an app that clears its handlers and then calls `dictConfig`; so the handlers it keeps flush
in a thread of their own, as from 1.35.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..settings import TRUE_VALUES
from .log_correlation import RecordFactoryHook

EXPORT_SWITCHES = ("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION")
"""The variables that ask for app log export (the SDK's, the logging instrumentation's)."""


def _flush_in_background(handler: logging.Handler) -> Any:
    """A `flush` for `handler` that asks its provider to export what it holds without waiting for it."""
    force_flush = getattr(getattr(handler, "_logger_provider", None), "force_flush", None)
    if not callable(force_flush):
        return None

    def flush() -> None:
        try:
            threading.Thread(target=force_flush, name="otel-log-flush", daemon=True).start()
        except RuntimeError:  # the interpreter is shutting down: the provider's own shutdown exports
            return

    flush._kotaemon_flush = True  # type: ignore[attr-defined]
    return flush


def exports_logs(handler: logging.Handler) -> bool:
    """Whether `handler` is one that OpenTelemetry puts on the root logger to export records (the SDK's or the
    logging instrumentation's `LoggingHandler`)."""
    cls = type(handler)
    return cls.__name__ == "LoggingHandler" and cls.__module__.startswith("opentelemetry.")


class LogExportGuard(RecordFactoryHook):
    """Keeps every exporting handler seen on the root logger there, checked as each record is created."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[logging.Handler] = []
        """The exporting handlers seen on the root logger."""

    @staticmethod
    def wanted(environ: Mapping[str, str]) -> bool:
        """Whether app log export is on (a switch is set, or an exporting handler is already in place)."""
        if any(environ.get(name, "").strip().lower() in TRUE_VALUES for name in EXPORT_SWITCHES):
            return True
        return any(exports_logs(handler) for handler in logging.getLogger().handlers)

    def enable(self) -> None:
        self._adopt(logging.getLogger().handlers)
        super().enable()

    def disable(self) -> None:
        super().disable()
        for handler in self.handlers:
            if getattr(handler.__dict__.get("flush"), "_kotaemon_flush", False):
                del handler.flush
        self.handlers = []

    def _adopt(self, present: list[logging.Handler]) -> None:
        """Take in charge the exporting handlers on the root logger (one may be added after us: the logging
        instrumentation's)."""
        for handler in present:
            if handler not in self.handlers and exports_logs(handler):
                flush = _flush_in_background(handler)
                if flush is not None:
                    handler.flush = flush  # type: ignore[method-assign]
                self.handlers.append(handler)

    def on_record(self, record: logging.LogRecord) -> None:
        try:
            root = logging.getLogger()
            present = root.handlers
            self._adopt(present)
            for handler in self.handlers:
                if handler not in present:
                    root.addHandler(handler)  # under logging's lock; never added twice
        except Exception:  # logging goes on as the app set it up
            return
