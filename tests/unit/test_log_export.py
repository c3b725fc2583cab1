"""App log export survives the app clearing the root logger's handlers: the same exporting handler is put back as the
next record is created, once, and only while the guard is on."""

from __future__ import annotations

import io
import logging
import logging.config
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from opentelemetry_instrumentation_kotaemon.core.log_export import LogExportGuard, exports_logs

try:  # SDK >= 1.40 renamed it
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:
    from opentelemetry.sdk._logs.export import InMemoryLogExporter  # type: ignore[no-redef]

pytestmark = pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level restored after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def exported(root: logging.Logger) -> Iterator[InMemoryLogExporter]:
    """The SDK's exporting handler on the root logger, as app log export sets it up, and the guard on."""
    exporter = InMemoryLogExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    root.addHandler(LoggingHandler(logger_provider=provider))
    guard = LogExportGuard()
    guard.enable()
    yield exporter
    guard.disable()


def bodies(exporter: InMemoryLogExporter) -> list[str]:
    return [str(data.log_record.body) for data in exporter.get_finished_logs()]


def test_records_after_the_app_clears_the_root_handlers_are_exported_once(
    root: logging.Logger, exported: InMemoryLogExporter
) -> None:
    shop = logging.getLogger("shop")
    shop.warning("before")
    root.handlers.clear()  # what Kotaemon's proposed setup_logging() does first
    local = io.StringIO()
    logging.basicConfig(stream=local, format="LOCAL %(message)s", level=logging.INFO)
    shop.warning("after basicConfig")
    shop.warning("and again")
    assert bodies(exported) == ["before", "after basicConfig", "and again"]
    assert local.getvalue().splitlines() == ["LOCAL after basicConfig", "LOCAL and again"]  # the app's handler works
    assert sum(exports_logs(handler) for handler in root.handlers) == 1


def test_records_after_dict_config_are_exported(root: logging.Logger, exported: InMemoryLogExporter) -> None:
    local = io.StringIO()
    logging.config.dictConfig(  # no record since start: the handler was taken in charge when the guard came on
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"local": {"class": "logging.StreamHandler", "stream": local}},
            "root": {"handlers": ["local"], "level": "INFO"},
        }
    )
    logging.getLogger("shop").info("configured")
    assert bodies(exported) == ["configured"]
    assert local.getvalue() == "configured\n"


def test_records_after_a_forced_basic_config_are_exported(root: logging.Logger, exported: InMemoryLogExporter) -> None:
    local = io.StringIO()
    logging.basicConfig(stream=local, format="%(message)s", level=logging.INFO, force=True)  # closes the old handlers
    logging.getLogger("shop").info("forced")
    assert bodies(exported) == ["forced"]
    assert local.getvalue() == "forced\n"


def test_the_guard_puts_back_nothing_when_off(root: logging.Logger) -> None:
    exporter = InMemoryLogExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    root.addHandler(LoggingHandler(logger_provider=provider))
    guard = LogExportGuard()
    guard.enable()
    logging.getLogger("shop").warning("seen")  # the handler is taken in charge
    guard.disable()
    root.handlers.clear()
    logging.getLogger("shop").warning("after")
    assert bodies(exporter) == ["seen"]
    assert not any(exports_logs(handler) for handler in root.handlers)


def test_the_guard_is_wanted_only_when_app_logs_are_exported(root: logging.Logger) -> None:
    assert not LogExportGuard.wanted({})
    assert LogExportGuard.wanted({"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"})
    assert LogExportGuard.wanted({"OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": " True "})
    assert not LogExportGuard.wanted({"OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": "false"})
    root.addHandler(LoggingHandler(logger_provider=LoggerProvider()))
    assert LogExportGuard.wanted({})
    assert not exports_logs(logging.StreamHandler())


def test_a_kept_handler_flushes_in_the_background_until_the_guard_is_off(root: logging.Logger) -> None:
    """dictConfig flushes every live handler under logging's lock; the SDK's handler before 1.35 waited for the export
    there, whose thread needs that lock: a kept handler hands the flush to a thread, as from 1.35."""
    flushed = threading.Event()

    class Provider(LoggerProvider):  # type: ignore[misc]
        def force_flush(self, timeout_millis: int = 30000) -> bool:
            flushed.set()
            return True

    handler = LoggingHandler(logger_provider=Provider())
    root.addHandler(handler)
    guard = LogExportGuard()
    guard.enable()
    assert "flush" in vars(handler)
    handler.flush()
    assert flushed.wait(10)
    guard.disable()
    assert "flush" not in vars(handler)  # the SDK's own again
