"""What SDK and exporter releases older than the newest lack, supplied while the configurator sets the SDK up, and our
delivery around the OTLP exporters.

- Every release: OTLP trace and log exporters kept and sent again while the collector is away, metric exporters that
  report their own failures, an explicit export timeout (see `delivery.exporters`).
- Before 1.35: exporters whose retries end within their export timeout (see `export_retries`).
- Before 1.28: histogram views (those SDKs ignore bucket advice), and a logger provider for GenAI events.
"""

from __future__ import annotations

import inspect
from typing import Any

from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
from opentelemetry.sdk.metrics import Meter

from ..core.instruments import HISTOGRAM_BUCKETS
from .delivery.exporters import exporter_class_for

SDK_TAKES_BUCKET_ADVICE = "explicit_bucket_boundaries_advisory" in inspect.signature(Meter.create_histogram).parameters
"""Whether this SDK reads the bucket boundaries our histograms advise (1.28+)."""


def import_exporters_with_bounded_retries(*names: Any) -> tuple[dict[str, Any], ...]:
    """The SDK's exporter classes by signal (traces, metrics, logs), each OTLP one replaced by what
    `delivery.exporters.exporter_class_for` builds (delivered, reported, bounded by its timeout)."""
    imported: tuple[dict[str, Any], ...] = _import_exporters(*names)
    return tuple(
        {name: exporter_class_for(signal, exporter) for name, exporter in exporters.items()}
        for signal, exporters in zip(("traces", "metrics", "logs"), imported, strict=True)
    )


def _resource() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource

    return getattr(trace.get_tracer_provider(), "resource", None) or Resource.create()


def init_metrics_with_bucket_views(exporters_or_readers: dict[str, Any], resource: Any = None) -> None:
    """The SDK's metrics setup, plus views that give our histograms boundaries in seconds and token counts
    instead of the millisecond-oriented defaults."""
    from opentelemetry.metrics import set_meter_provider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

    readers = [
        cls() if issubclass(cls, MetricReader) else PeriodicExportingMetricReader(cls())
        for cls in exporters_or_readers.values()
    ]
    set_meter_provider(MeterProvider(resource=resource, metric_readers=readers, views=bucket_views()))


def bucket_views() -> list[Any]:
    """A view per histogram of ours, giving it our bucket boundaries (for SDKs that ignore bucket advice)."""
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    return [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(boundaries=buckets))
        for name, buckets in HISTOGRAM_BUCKETS.items()
    ]


def ensure_logger_provider() -> None:
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
    _, _, exporters = import_exporters_with_bounded_retries([], [], names)
    provider = LoggerProvider(resource=_resource())
    for exporter_class in exporters.values():
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter_class()))
    set_logger_provider(provider)
