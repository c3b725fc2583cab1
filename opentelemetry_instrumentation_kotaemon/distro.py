"""The distro and configurator that `opentelemetry-instrument` loads for this package.

The distro fills in defaults only for what the user left unset: OTLP over http/protobuf for traces, metrics
and logs, and this package's configurator. The configurator is the SDK's own, so every standard `OTEL_*`
variable keeps working; on SDKs older than 1.28 it also supplies what those lack (see below).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters, _OTelSDKConfigurator
from opentelemetry.sdk.metrics import Meter

from .core.instruments import HISTOGRAM_BUCKETS

ENTRY_POINT_NAME = "kotaemon"

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_PYTHON_CONFIGURATOR": ENTRY_POINT_NAME,
}

_SDK_TAKES_BUCKET_ADVICE = "explicit_bucket_boundaries_advisory" in inspect.signature(Meter.create_histogram).parameters


class KotaemonDistro(BaseDistro):  # type: ignore[misc]
    """Sets this package's defaults, leaving every variable the user set untouched."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in DEFAULTS.items():
            os.environ.setdefault(name, value)


class KotaemonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """Sets up the SDK (tracer, meter and logger providers, exporters) from the environment."""

    def _configure(self, **kwargs: Any) -> None:
        if _SDK_TAKES_BUCKET_ADVICE:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        else:
            # SDKs older than 1.28 ignore bucket advice: for the length of their setup, their metrics step is
            # replaced by the same step plus views (its signature there is `(exporters_or_readers, resource)`).
            original = sdk_configuration._init_metrics
            sdk_configuration._init_metrics = _init_metrics_with_bucket_views  # type: ignore[assignment]
            try:
                super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            finally:
                sdk_configuration._init_metrics = original
        _ensure_logger_provider()


def _resource() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource

    return getattr(trace.get_tracer_provider(), "resource", None) or Resource.create()


def _init_metrics_with_bucket_views(exporters_or_readers: dict[str, Any], resource: Any = None) -> None:
    """The SDK's metrics setup, plus views that give our histograms boundaries in seconds and token counts
    instead of the millisecond-oriented defaults."""
    from opentelemetry.metrics import set_meter_provider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    readers = [
        cls() if issubclass(cls, MetricReader) else PeriodicExportingMetricReader(cls())
        for cls in exporters_or_readers.values()
    ]
    views = [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(boundaries=buckets))
        for name, buckets in HISTOGRAM_BUCKETS.items()
    ]
    set_meter_provider(MeterProvider(resource=resource, metric_readers=readers, views=views))


def _ensure_logger_provider() -> None:
    """Give GenAI events a logger provider on SDKs older than 1.28.

    Those set one up only together with the root logging handler that exports every app log record
    (`OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED`); newer SDKs set up the provider on its own.
    """
    from opentelemetry._logs import get_logger_provider, set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    if isinstance(get_logger_provider(), LoggerProvider):
        return
    names = list(_get_exporter_names("logs"))
    if not names:
        return
    _, _, exporters = _import_exporters([], [], names)
    provider = LoggerProvider(resource=_resource())
    for exporter_class in exporters.values():
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter_class()))
    set_logger_provider(provider)
