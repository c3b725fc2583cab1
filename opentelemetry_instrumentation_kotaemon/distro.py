"""The distro and configurator that `opentelemetry-instrument` loads for this package.

The distro fills in defaults only for what the user left unset: OTLP for traces, metrics and logs (over
http/protobuf when its exporter is installed, else gRPC), and this package's configurator. The configurator is the
SDK's own, so every standard `OTEL_*` variable keeps working; on older SDKs and exporters it also supplies what those
lack: histogram views (before 1.28) and retries bounded by the export timeout (before 1.35).
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters, _OTelSDKConfigurator
from opentelemetry.sdk.metrics import Meter

from . import export_errors
from .core.instruments import HISTOGRAM_BUCKETS
from .export_retries import with_bounded_retries
from .settings import ENTRY_POINT_NAME, default_protocol, sanitize_standard_variables

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

_SDK_TAKES_BUCKET_ADVICE = "explicit_bucket_boundaries_advisory" in inspect.signature(Meter.create_histogram).parameters


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


class KotaemonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """Sets up the SDK (tracer, meter and logger providers, exporters) from the environment."""

    def _configure(self, **kwargs: Any) -> None:
        # For the length of the SDK's setup, its steps are replaced by the same steps plus what old SDKs lack:
        # exporters whose retries end within their timeout (before 1.35), and histogram views (before 1.28, which
        # ignore bucket advice; the metrics step's signature there is `(exporters_or_readers, resource)`).
        replaced: dict[str, Callable[..., Any]] = {"_import_exporters": _import_exporters_with_bounded_retries}
        if not _SDK_TAKES_BUCKET_ADVICE:
            replaced["_init_metrics"] = _init_metrics_with_bucket_views
        originals = {name: getattr(sdk_configuration, name) for name in replaced}
        for name, step in replaced.items():
            setattr(sdk_configuration, name, step)
        try:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        finally:
            for name, step in originals.items():
                setattr(sdk_configuration, name, step)
        _ensure_logger_provider()
        _redact_exported_logs()
        export_errors.install()


def _import_exporters_with_bounded_retries(*names: Any) -> tuple[dict[str, Any], ...]:
    """The SDK's exporter classes by signal, each with its retries bounded by its timeout (see `export_retries`)."""
    return tuple(
        {name: with_bounded_retries(exporter) for name, exporter in exporters.items()}
        for exporters in _import_exporters(*names)
    )


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


def _redact_exported_logs() -> None:
    """Apply our redaction to every exported log record (app logs included, when the user exports them)."""
    from opentelemetry._logs import get_logger_provider

    redact_exported_logs(get_logger_provider())


def redact_exported_logs(provider: object) -> None:
    """Put the redacting processor first on `provider`; when the SDK's provider no longer lets us, fail closed:
    no app log record is exported (they could carry what redaction is for), and one warning says why."""
    from opentelemetry.sdk._logs import LoggerProvider

    from .core.content import ContentPolicy
    from .core.redaction import RedactingLogProcessor
    from .settings import Settings

    if RedactingLogProcessor(ContentPolicy(Settings.from_env()).clean).install_first(provider):
        return
    if not isinstance(provider, LoggerProvider):  # not the SDK's: it exports nothing of the app's logs
        return
    _stop_app_log_export(provider)
    logging.getLogger(__name__).warning(
        "App log records are not exported: this SDK release (opentelemetry-sdk %s) does not let the redaction of "
        "exported log records be installed, and unredacted records could leak personal data or secrets. Spans, "
        "metrics and GenAI events are not affected.",
        _sdk_version(),
    )


def _stop_app_log_export(provider: object) -> None:
    """Take the SDK's exporting handlers off the root logger, and keep the logging instrumentation (loaded after
    this configurator) from adding its own."""
    from opentelemetry.sdk._logs import LoggingHandler

    os.environ["OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"] = "false"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LoggingHandler):
            root.removeHandler(handler)


def _sdk_version() -> str:
    from opentelemetry.sdk.version import __version__

    return str(__version__)


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
    _, _, exporters = _import_exporters_with_bounded_retries([], [], names)
    provider = LoggerProvider(resource=_resource())
    for exporter_class in exporters.values():
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter_class()))
    set_logger_provider(provider)


def keep_child_processes_instrumented() -> None:
    """`opentelemetry_post_instrument` hook: launchers before 0.50b0 take their own directory out of `PYTHONPATH`
    for good, so child Python processes (multiprocessing spawn workers, `uvicorn --workers`, subprocesses) run
    uninstrumented; put it back, as newer launchers do once their setup is over."""
    import opentelemetry.instrumentation.auto_instrumentation as launcher

    directory = os.path.dirname(os.path.abspath(launcher.__file__))
    if directory not in sys.path:  # not started by opentelemetry-instrument
        return
    parts = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    if directory not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([directory, *parts])


def flush_before_uvicorn_stops() -> None:
    """`opentelemetry_post_instrument` hook: uvicorn (0.29+) ends its graceful shutdown on SIGTERM by raising the
    signal again with its default action, which kills the process before the exit hooks that export what the SDK
    still buffers (each `--workers` process is stopped that way, even on Ctrl+C); export it first."""
    from . import patching

    patching.when_imported("uvicorn.server", _flush_before_reraise)


def _flush_before_reraise(module: Any) -> None:
    import wrapt

    server = getattr(module, "Server", None)
    if server is None or not hasattr(server, "capture_signals"):
        return
    try:
        wrapt.wrap_function_wrapper(server, "capture_signals", _capture_signals_then_flush)
    except Exception:  # runs inside the app's `import uvicorn`, which must never fail because of us
        logging.getLogger(__name__).debug("could not wrap uvicorn's Server.capture_signals", exc_info=True)


class _FlushOnSignalExit:
    """uvicorn's `capture_signals()` context, which exports buffered telemetry before it re-raises a signal."""

    def __init__(self, inner: Any, server: Any) -> None:
        self._inner = inner
        self._server = server

    def __enter__(self) -> Any:
        return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        # Ctrl+C is raised again as KeyboardInterrupt, after which the exit hooks do export
        if any(sig != signal.SIGINT for sig in getattr(self._server, "_captured_signals", ())):
            force_flush_providers()
        return self._inner.__exit__(*exc)


def _capture_signals_then_flush(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _FlushOnSignalExit(wrapped(*args, **kwargs), instance)


FLUSH_TIMEOUT_MILLIS = 5000
"""Longest wait for each provider's flush before uvicorn ends the process (exports themselves time out sooner)."""


def force_flush_providers() -> None:
    """Export what the global tracer, meter and logger providers buffer; never raises."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), get_logger_provider()):
        try:
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush(timeout_millis=FLUSH_TIMEOUT_MILLIS)
        except Exception:
            logging.getLogger(__name__).debug("could not flush %r", provider, exc_info=True)
