"""The distro and configurator that `opentelemetry-instrument` loads for this package.

The distro fills in defaults only for what the user left unset: OTLP over http/protobuf for traces, metrics
and logs, and this package's configurator. The configurator is the SDK's own, so every standard `OTEL_*`
variable keeps working.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

ENTRY_POINT_NAME = "kotaemon"

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_PYTHON_CONFIGURATOR": ENTRY_POINT_NAME,
}


class KotaemonDistro(BaseDistro):  # type: ignore[misc]
    """Sets this package's defaults, leaving every variable the user set untouched."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in DEFAULTS.items():
            os.environ.setdefault(name, value)


class KotaemonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """Sets up the SDK (tracer, meter and logger providers, exporters) from the environment."""

    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        _ensure_logger_provider()


def _ensure_logger_provider() -> None:
    """Give GenAI events a logger provider on SDKs older than 1.28.

    Those set one up only together with the root logging handler that exports every app log record
    (`OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED`); newer SDKs set up the provider on its own.
    """
    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider, set_logger_provider
    from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    if isinstance(get_logger_provider(), LoggerProvider):
        return
    names = list(_get_exporter_names("logs"))
    if not names:
        return
    _, _, exporters = _import_exporters([], [], names)
    resource = getattr(trace.get_tracer_provider(), "resource", None) or Resource.create()
    provider = LoggerProvider(resource=resource)
    for exporter_class in exporters.values():
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter_class()))
    set_logger_provider(provider)
