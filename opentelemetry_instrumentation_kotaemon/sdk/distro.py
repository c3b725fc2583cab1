"""The distro that `opentelemetry-instrument` loads for this package.

It fills in defaults only for what the user left unset: OTLP for traces, metrics and logs (over http/protobuf when
its exporter is installed, else gRPC), and this package's configurator (see `configurator`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from ..settings import ENTRY_POINT_NAME, default_protocol, sanitize_standard_variables

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    # One second per export request (the SDK waits 10): with the collector down or hanging, the app's exit is
    # delayed by about a second per signal, not by half a minute. Raise it for a distant collector on a slow link.
    "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    "OTEL_PYTHON_CONFIGURATOR": ENTRY_POINT_NAME,
    # The logging instrumentation (0.5x+), when the user installs it, would otherwise export every app log record.
    "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": "false",
}

ATTRIBUTE_LENGTH_LIMIT = "16384"
"""Default longest attribute value (the SDK has no limit): room for prompts, no megabyte payloads."""


class KotaemonDistro(BaseDistro):  # type: ignore[misc]
    """Sets this package's defaults, leaving every variable the user set untouched, and replaces malformed
    standard values (which would abort the SDK's setup) by safe ones, with a warning."""

    def _configure(self, **kwargs: Any) -> None:
        environ = os.environ
        for name, value in DEFAULTS.items():
            environ.setdefault(name, value)
        environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", default_protocol())
        if not environ.get("OTEL_SERVICE_NAME") and "service.name=" not in environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
            environ["OTEL_SERVICE_NAME"] = default_service_name()
        if "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT" not in environ:
            environ.setdefault("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", ATTRIBUTE_LENGTH_LIMIT)
        # let HTTP server instrumentations show on the server span the debug header that forced its sampling
        environ.setdefault("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-debug-tracing")
        sanitize_standard_variables(environ)
        if environ.get("OTEL_PYTHON_CONFIGURATOR") == ENTRY_POINT_NAME:
            logging.getLogger(_LOADER_LOGGER).addFilter(_skip_other_configurator_notice)


_LOADER_LOGGER = "opentelemetry.instrumentation.auto_instrumentation._load"


def _skip_other_configurator_notice(record: logging.LogRecord) -> bool:
    """Drop the launcher's "Configuration of configurator not loaded" notice: `opentelemetry-distro`, when installed,
    adds a second configurator, and the launcher warns about it on every start although ours was chosen."""
    return not str(record.msg).startswith("Configuration of %s not loaded")


def default_service_name() -> str:
    """The app script's name (`app` for `python app.py`), so that every process gets a stable, telling name."""
    script = Path(sys.argv[0]).stem if getattr(sys, "argv", None) and sys.argv[0] else ""
    return script if script and script not in ("-c", "-m", "__main__") else "kotaemon-app"
