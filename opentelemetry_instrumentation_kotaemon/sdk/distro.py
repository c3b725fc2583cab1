"""The distro that `opentelemetry-instrument` loads for this package.

It fills in defaults only for what the user left unset: OTLP for traces, metrics and logs (over http/protobuf when
its exporter is installed, else gRPC), and this package's configurator (see `configurator`). It loads the FastAPI
instrumentation without its per-message spans and with the hook for Gradio's data requests (see `asgi`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from ..settings import (
    ATTRIBUTE_LENGTH_LIMIT,
    DISTRO_DEFAULTS,
    ENTRY_POINT_NAME,
    default_protocol,
    sanitize_standard_variables,
)
from . import console


class KotaemonDistro(BaseDistro):  # type: ignore[misc]
    """Sets this package's defaults, leaving every variable the user set untouched, and replaces malformed
    standard values (which would abort the SDK's setup) by safe ones, with a warning."""

    def _configure(self, **kwargs: Any) -> None:
        console.install()
        environ = os.environ
        for name, value in DISTRO_DEFAULTS.items():  # the table of standard settings says why each
            environ.setdefault(name, value)
        environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", default_protocol())
        if not environ.get("OTEL_SERVICE_NAME") and "service.name=" not in environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
            environ["OTEL_SERVICE_NAME"] = default_service_name()
        if "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT" not in environ:
            environ.setdefault("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", ATTRIBUTE_LENGTH_LIMIT)
        sanitize_standard_variables(environ)
        if environ.get("OTEL_PYTHON_CONFIGURATOR") == ENTRY_POINT_NAME:
            logging.getLogger(_LOADER_LOGGER).addFilter(_skip_other_configurator_notice)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Load an instrumentation as the launcher does, with our options for FastAPI (see `asgi`)."""
        if entry_point.name == "fastapi":
            # imported here, not on top: it imports the SDK's trace module, which reads the span limits from the
            # environment, and must not do so before `_configure` has replaced the malformed values
            from . import asgi

            try:
                kwargs = asgi.instrumentor_options(entry_point.name, entry_point.load(), kwargs)
                if asgi.drops_at_sampling():
                    asgi.skip_dropped_message_spans()
            except Exception:
                logging.getLogger(__name__).debug("FastAPI instrumentation loaded as it is", exc_info=True)
        super().load_instrumentor(entry_point, **kwargs)


_LOADER_LOGGER = "opentelemetry.instrumentation.auto_instrumentation._load"


def _skip_other_configurator_notice(record: logging.LogRecord) -> bool:
    """Drop the launcher's "Configuration of configurator not loaded" notice: `opentelemetry-distro`, when installed,
    adds a second configurator, and the launcher warns about it on every start although ours was chosen."""
    return not str(record.msg).startswith("Configuration of %s not loaded")


def default_service_name() -> str:
    """The app script's name (`app` for `python app.py`), so that every process gets a stable, telling name."""
    script = Path(sys.argv[0]).stem if getattr(sys, "argv", None) and sys.argv[0] else ""
    return script if script and script not in ("-c", "-m", "__main__") else "kotaemon-app"
