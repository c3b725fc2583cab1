"""When the redacting log processor cannot be installed, no app log record is exported, and one warning says why."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from opentelemetry_instrumentation_kotaemon.sdk.configurator import redact_exported_logs

try:  # SDK >= 1.40 renamed it
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:
    from opentelemetry.sdk._logs.export import InMemoryLogExporter  # type: ignore[no-redef]

# the SDK's own handler is what its log export variable puts on the root logger (deprecated from 1.39, still there)
pytestmark = pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")


@pytest.fixture
def exporting_root_handler() -> Iterator[tuple[LoggerProvider, InMemoryLogExporter, LoggingHandler]]:
    """A provider exporting to memory and the SDK's handler on the root logger, as app log export sets them up."""
    exporter = InMemoryLogExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    yield provider, exporter, handler
    logging.getLogger().removeHandler(handler)


def _exported_bodies(exporter: InMemoryLogExporter) -> list[str]:
    return [str(data.log_record.body) for data in exporter.get_finished_logs()]


def test_app_logs_are_redacted_when_the_processor_installs(
    exporting_root_handler: tuple[LoggerProvider, InMemoryLogExporter, LoggingHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_KOTAEMON_REDACT", "true")
    provider, exporter, _ = exporting_root_handler
    redact_exported_logs(provider)
    logging.getLogger("shop").warning("order paid with 4111 1111 1111 1111")
    assert _exported_bodies(exporter) and "4111 1111 1111 1111" not in _exported_bodies(exporter)[0]


def test_app_logs_are_not_exported_when_the_sdks_processor_list_changed(
    exporting_root_handler: tuple[LoggerProvider, InMemoryLogExporter, LoggingHandler],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OTEL_KOTAEMON_REDACT", "true")
    monkeypatch.setenv("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "true")  # restored after the test
    provider, exporter, handler = exporting_root_handler
    multi = provider._multi_log_record_processor
    # a release that keeps its processors in another shape than the tuple we prepend to
    monkeypatch.setattr(multi, "_log_record_processors", list(multi._log_record_processors))
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_kotaemon"):
        redact_exported_logs(provider)
    logging.getLogger("shop").warning("order paid with 4111 1111 1111 1111")
    assert _exported_bodies(exporter) == []
    assert handler not in logging.getLogger().handlers
    assert os.environ["OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"] == "false"  # the logging instrumentation adds none
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry_instrumentation_kotaemon")]
    assert len(warnings) == 1 and warnings[0].startswith("App log records are not exported"), warnings
