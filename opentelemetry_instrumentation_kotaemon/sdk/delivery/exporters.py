"""The exporters the configurator builds: OTLP trace and log exporters delivered through `Delivery` (kept and sent
again while the collector is away), OTLP metric exporters that report their own failures, every OTLP exporter with an
explicit timeout.

The timeout: the specification reads `OTEL_EXPORTER_OTLP_TIMEOUT` in milliseconds, the SDK releases we support read it
in seconds (open-telemetry/opentelemetry-python#4044). So the distro no longer sets it: where the user set neither it
nor the per-signal variable, each exporter gets `timeout=1.0` through its constructor, which takes seconds in every
release. A value the user set is left to the SDK to read.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..export_errors import exporting, report_export_failure
from ..export_retries import with_bounded_retries

DEFAULT_EXPORT_TIMEOUT = 1.0
"""Seconds one export attempt may take when the user sets no timeout: a down collector holds the exit that long."""
_SIGNAL_VARIABLES = {"traces": "TRACES", "metrics": "METRICS", "logs": "LOGS"}
_OTLP_MODULE = "opentelemetry.exporter.otlp.proto."


def user_set_timeout(signal: str) -> bool:
    """Whether the environment sets the export timeout of `signal` (then the SDK reads it, in its own unit)."""
    names = ("OTEL_EXPORTER_OTLP_TIMEOUT", f"OTEL_EXPORTER_OTLP_{_SIGNAL_VARIABLES[signal]}_TIMEOUT")
    return any((os.environ.get(name) or "").strip() for name in names)


def export_timeout(signal: str) -> float:
    """Seconds an export attempt of `signal` may take: the exporter's own reading of the user's value, else ours."""
    if not user_set_timeout(signal):
        return DEFAULT_EXPORT_TIMEOUT
    try:
        return float(attempt_timeout(build_otlp_exporter(signal)))
    except Exception:
        return DEFAULT_EXPORT_TIMEOUT


def attempt_timeout(exporter: Any) -> float:
    """The timeout in seconds `exporter` was built with."""
    client = getattr(exporter, "_client", None)
    timeout = getattr(exporter, "_timeout", None) or getattr(client, "_timeout", None)
    return float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else DEFAULT_EXPORT_TIMEOUT


def _from_module(exporter_class: Any, module: str) -> bool:
    """Whether `exporter_class` is, or derives from, a class of `module` (or its submodules)."""
    return isinstance(exporter_class, type) and any(
        (base.__module__ or "").startswith(module) for base in exporter_class.__mro__
    )


def is_otlp(exporter_class: Any) -> bool:
    return _from_module(exporter_class, _OTLP_MODULE)


RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
"""gRPC channel options of our trace and log exporters. A channel that could not connect waits longer and longer
before it tries again (up to two minutes by default) and fails every call meanwhile, so a collector back after a long
outage would get nothing for a minute or more: here the waits stop at 2 s (a connection attempt to a collector that is
away costs next to nothing). Channels with other options have subchannels of their own, so the metric exporter's is
left as it was."""
_GRPC_MODULE = "opentelemetry.exporter.otlp.proto.grpc.exporter"
_channel_lock = threading.Lock()


def _with_timeout(exporter_class: Any, signal: str) -> Callable[..., Any]:
    """`exporter_class`'s constructor, given our timeout (unless the user set one) and, for a gRPC exporter, channels
    that reconnect within seconds (`RECONNECT_OPTIONS`)."""
    grpc = _from_module(exporter_class, _OTLP_MODULE + "grpc")
    takes_options = "channel_options" in inspect.signature(exporter_class.__init__).parameters

    def build(*args: Any, **kwargs: Any) -> Any:
        if not args and "timeout" not in kwargs and not user_set_timeout(signal):
            kwargs["timeout"] = DEFAULT_EXPORT_TIMEOUT
        if not grpc or args or "channel_options" in kwargs:
            return exporter_class(*args, **kwargs)
        if takes_options:
            return exporter_class(*args, channel_options=RECONNECT_OPTIONS, **kwargs)
        return _with_reconnect_options(exporter_class, kwargs)

    return build


def _with_reconnect_options(exporter_class: Any, kwargs: dict[str, Any]) -> Any:
    """Build a gRPC exporter of a release without `channel_options` (before 1.3x) whose channel has our options: its
    module's channel factories are given them for the length of the constructor."""
    module = sys.modules.get(_GRPC_MODULE)
    originals = {name: getattr(module, name, None) for name in ("insecure_channel", "secure_channel")}
    if module is None or None in originals.values():
        return exporter_class(**kwargs)

    def with_options(factory: Callable[..., Any]) -> Callable[..., Any]:
        def channel(*args: Any, **options: Any) -> Any:
            options.setdefault("options", RECONNECT_OPTIONS)
            return factory(*args, **options)

        return channel

    with _channel_lock:
        for name, factory in originals.items():
            setattr(module, name, with_options(factory))  # type: ignore[arg-type]
        try:
            return exporter_class(**kwargs)
        finally:
            for name, factory in originals.items():
                setattr(module, name, factory)


def exporter_class_for(signal: str, exporter_class: Any) -> Any:
    """What the configurator builds for `signal` ("traces", "metrics" or "logs") in place of `exporter_class`."""
    if not is_otlp(exporter_class):
        return exporter_class
    if signal == "metrics":
        return _reported_metric_exporter(with_bounded_retries(exporter_class))
    build = _with_timeout(with_bounded_retries(exporter_class), signal)

    def delivering(*args: Any, **kwargs: Any) -> Any:
        from .delivery import deliver

        return deliver(signal, build(*args, **kwargs))

    delivering.__name__ = delivering.__qualname__ = getattr(exporter_class, "__name__", "OTLPExporter")
    return delivering


def _reported_metric_exporter(exporter_class: Any) -> Any:
    """A subclass whose exports tell our log filter they are metrics (so a failure line names the right signal, see
    `export_errors`), that reports an exception as a failure, and that takes `timeout=1.0` unless the user set one."""
    from opentelemetry.sdk.metrics.export import MetricExportResult

    class ReportedMetricExporter(exporter_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if not args and "timeout" not in kwargs and not user_set_timeout("metrics"):
                kwargs["timeout"] = DEFAULT_EXPORT_TIMEOUT
            super().__init__(*args, **kwargs)

        def export(self, *args: Any, **kwargs: Any) -> Any:
            with exporting("metrics"):
                try:
                    return super().export(*args, **kwargs)
                except Exception as error:
                    report_export_failure("metrics", f"{type(error).__name__}: {error}")
                    return MetricExportResult.FAILURE

    ReportedMetricExporter.__name__ = ReportedMetricExporter.__qualname__ = exporter_class.__name__
    return ReportedMetricExporter


def build_otlp_exporter(signal: str) -> Any:
    """The SDK's OTLP exporter of `signal`, built from the environment as the configurator builds it (without our
    delivery around it): the protocol of `OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`."""
    from ...settings import default_protocol

    variable = _SIGNAL_VARIABLES[signal]
    protocol = (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{variable}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or default_protocol()
    ).strip()
    grpc = protocol == "grpc"
    module, name = {
        ("traces", True): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
        ("logs", True): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
        ("traces", False): ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter"),
        ("logs", False): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
    }[(signal, grpc)]
    exporter_class = getattr(importlib.import_module(module), name)
    return _with_timeout(exporter_class, signal)()
