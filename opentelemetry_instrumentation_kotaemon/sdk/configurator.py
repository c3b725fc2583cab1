"""The configurator that `opentelemetry-instrument` loads for this package.

It is the SDK's own, so every standard `OTEL_*` variable keeps working; on older SDKs and exporters it also supplies
what those lack (see `shims`, and `instance` for a `service.instance.id` per process and forked worker), redacts
exported log records and reports export failures in a few clear lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from . import export_errors, instance
from .shims import (
    SDK_TAKES_BUCKET_ADVICE,
    ensure_logger_provider,
    import_exporters_with_bounded_retries,
    init_metrics_with_bucket_views,
)


class KotaemonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """Sets up the SDK (tracer, meter and logger providers, exporters) from the environment."""

    def _configure(self, **kwargs: Any) -> None:
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
        instance.install()
        _redact_exported_logs()
        export_errors.install()


def _redact_exported_logs() -> None:
    """Apply our redaction to every exported log record (app logs included, when the user exports them)."""
    from opentelemetry._logs import get_logger_provider

    redact_exported_logs(get_logger_provider())


def redact_exported_logs(provider: object) -> None:
    """Put the redacting processor first on `provider`; when the SDK's provider no longer lets us, fail closed:
    no app log record is exported (they could carry what redaction is for), and one warning says why."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.version import __version__ as sdk_version

    from ..core.content import ContentPolicy
    from ..core.redaction import RedactingLogProcessor
    from ..settings import Settings

    if RedactingLogProcessor(ContentPolicy(Settings.from_env()).clean).install_first(provider):
        return
    if not isinstance(provider, LoggerProvider):  # not the SDK's: it exports nothing of the app's logs
        return
    _stop_app_log_export()
    logging.getLogger(__name__).warning(
        "App log records are not exported: this SDK release (opentelemetry-sdk %s) does not let the redaction of "
        "exported log records be installed, and unredacted records could leak personal data or secrets. Spans, "
        "metrics and GenAI events are not affected.",
        sdk_version,
    )


def _stop_app_log_export() -> None:
    """Take the SDK's exporting handlers off the root logger, and keep the logging instrumentation (loaded after
    this configurator) from adding its own."""
    from opentelemetry.sdk._logs import LoggingHandler

    os.environ["OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"] = "false"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LoggingHandler):
            root.removeHandler(handler)
