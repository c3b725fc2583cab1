"""The configurator that `opentelemetry-instrument` loads for this package.

It is the SDK's own, so every standard `OTEL_*` variable keeps working; on older SDKs and exporters it also supplies
what those lack (see `shims`, and `instance` for a `service.instance.id` per process and forked worker), names this
package as the distro on the resource (`telemetry.distro.name` and `.version`), redacts exported log records and
reports export failures in a few clear lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from ..attributes import TELEMETRY_DISTRO_NAME, TELEMETRY_DISTRO_VERSION
from ..version import DISTRIBUTION, __version__
from . import asgi, export_errors, instance
from .shims import (
    SDK_TAKES_BUCKET_ADVICE,
    ensure_logger_provider,
    import_exporters_with_bounded_retries,
    init_metrics_with_bucket_views,
)

logger = logging.getLogger(__name__)


class KotaemonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """Sets up the SDK (tracer, meter and logger providers, exporters) from the environment."""

    def _configure(self, **kwargs: Any) -> None:
        distro = {TELEMETRY_DISTRO_NAME: DISTRIBUTION, TELEMETRY_DISTRO_VERSION: __version__}
        kwargs["resource_attributes"] = {**distro, **(kwargs.get("resource_attributes") or {})}
        # For the length of the SDK's setup, its steps are replaced by the same steps plus what old SDKs lack:
        # exporters whose retries end within their timeout (before 1.35), and histogram views (before 1.28, which
        # ignore bucket advice; the metrics step's signature there is `(exporters_or_readers, resource)`).
        replaced: dict[str, Callable[..., Any]] = {"_import_exporters": import_exporters_with_bounded_retries}
        if not SDK_TAKES_BUCKET_ADVICE:
            replaced["_init_metrics"] = init_metrics_with_bucket_views
        originals = {name: getattr(sdk_configuration, name) for name in replaced}
        for name, step in replaced.items():
            setattr(sdk_configuration, name, step)
        try:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        finally:
            for name, step in originals.items():
                setattr(sdk_configuration, name, step)
        ensure_logger_provider()
        _drop_asgi_message_spans()
        instance.install()
        _redact_exported_logs()
        export_errors.install()


def _drop_asgi_message_spans() -> None:
    """Wrap the tracer provider's sampler where the ASGI instrumentation cannot leave its message spans out."""
    from opentelemetry import trace

    try:
        asgi.drop_message_spans(trace.get_tracer_provider())
    except Exception:
        logger.debug("could not wrap the sampler", exc_info=True)


def _redact_exported_logs() -> None:
    """Apply our redaction to every exported log record (app logs included, when the user exports them)."""
    from opentelemetry._logs import get_logger_provider

    redact_exported_logs(get_logger_provider())


def redact_exported_logs(provider: object, meter_provider: Any = None) -> None:
    """Put our redaction in front of `provider`'s processors (see `log_redaction`); when this SDK release no longer
    lets us, fail closed: the provider is shut down, so that no log record is exported (they could carry what
    redaction is for), and one warning says why."""
    from opentelemetry.metrics import get_meter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.version import __version__ as sdk_version

    from .. import attributes as attr
    from ..core.content import ContentPolicy
    from ..core.telemetry import INSTRUMENTATION_NAME
    from ..settings import Settings
    from ..version import __version__
    from .log_redaction import LogRedaction

    failures = get_meter(INSTRUMENTATION_NAME, __version__, meter_provider).create_counter(
        attr.METRIC_LOG_REDACTION_FAILURES,
        unit="{log_record}",
        description="Log records dropped, not exported, because their redaction failed",
    )
    redaction = LogRedaction(
        ContentPolicy(Settings.from_env()).redact_value, lambda kind: failures.add(1, {attr.ERROR_TYPE: kind})
    )
    if redaction.install(provider) or not isinstance(provider, LoggerProvider):
        return  # a provider that is not the SDK's exports nothing
    try:
        provider.shutdown()
    except Exception:
        logger.debug("could not shut the logger provider down", exc_info=True)
    logger.warning(
        "Log records are not exported (app logs and GenAI events): this SDK release (opentelemetry-sdk %s) does not "
        "let their redaction be installed, and unredacted records could leak personal data or secrets. Spans and "
        "metrics are not affected.",
        sdk_version,
    )
