"""Our warnings reach the console of the person who starts the app, also when app logs are exported.

Python prints a warning nobody handles on stderr (`logging.lastResort`), but only when no handler at all would take
it. With app-log export on, the SDK puts its exporting handler on the root logger before we read our settings, so a
warning about a bad setting would go to the backend only. `ConsoleFallback`, on this package's logger, writes our
warnings to stderr exactly when the only handlers that would take them are OpenTelemetry's: once the app configures
logging (a console, a file...), its handlers show them and we stay silent, so no line is printed twice.
"""

from __future__ import annotations

import logging
import sys

PACKAGE_LOGGER = "opentelemetry_instrumentation_kotaemon"


def _exports_only(handler: logging.Handler) -> bool:
    """An OpenTelemetry handler (the SDK's, the logging instrumentation's): it exports, it shows nothing."""
    return type(handler).__module__.startswith("opentelemetry.")


class ConsoleFallback(logging.Handler):
    """Writes a warning (or worse) to stderr when no handler but OpenTelemetry's would take it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if self._shown_elsewhere(record):
            return
        try:
            sys.stderr.write(self.format(record) + "\n")  # as `logging.lastResort` writes it
        except Exception:
            self.handleError(record)

    def _shown_elsewhere(self, record: logging.LogRecord) -> bool:
        current: logging.Logger | None = logging.getLogger(record.name)
        while current is not None:
            for handler in current.handlers:
                if handler is not self and not _exports_only(handler) and record.levelno >= handler.level:
                    return True
            if not current.propagate:
                return False
            current = current.parent
        return False


def install() -> None:
    """Put the fallback on this package's logger (once)."""
    package = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(handler, ConsoleFallback) for handler in package.handlers):
        package.addHandler(ConsoleFallback())
