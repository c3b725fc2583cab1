"""Every exported log record is redacted, whatever the shape of its values and wherever its handler is; a record that
cannot be redacted is dropped and counted; when the redaction cannot be installed, no log record is exported."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs._internal import SynchronousMultiLogRecordProcessor
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry_instrumentation_kotaemon.core.content import TOO_DEEP, ContentPolicy
from opentelemetry_instrumentation_kotaemon.core.events import emit_event
from opentelemetry_instrumentation_kotaemon.sdk.configurator import redact_exported_logs
from opentelemetry_instrumentation_kotaemon.settings import Settings

try:  # SDK >= 1.40 renamed it
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:
    from opentelemetry.sdk._logs.export import InMemoryLogExporter  # type: ignore[no-redef]

# the SDK's own handler is what its log export variable puts on the root logger (deprecated from 1.39, still there)
pytestmark = pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
PLANTED = (EMAIL, CARD, "4111111111111111")


@dataclass
class Exported:
    """A logger provider exporting to memory, as app log export sets it up, and the metrics of the redaction."""

    provider: LoggerProvider
    exporter: InMemoryLogExporter
    metrics: InMemoryMetricReader
    meter_provider: MeterProvider

    def handle(self, name: str) -> logging.Logger:
        """A logger whose records go to this provider through the SDK's handler (and nowhere else)."""
        log = logging.getLogger(name)
        log.addHandler(LoggingHandler(logger_provider=self.provider))
        log.propagate = False
        log.setLevel(logging.INFO)
        return log

    def records(self) -> list[Any]:
        return [data.log_record for data in self.exporter.get_finished_logs()]

    def failures(self) -> dict[str, int]:
        """`kotaemon.log_records.redaction_failures` by `error.type`."""
        data = self.metrics.get_metrics_data()
        counts: dict[str, int] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "kotaemon.log_records.redaction_failures":
                        for point in metric.data.data_points:
                            counts[str(point.attributes["error.type"])] = point.value
        return counts


@pytest.fixture
def exported() -> Iterator[Exported]:
    exporter = InMemoryLogExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    metrics = InMemoryMetricReader()
    state = Exported(provider, exporter, metrics, MeterProvider(metric_readers=[metrics]))
    loggers = set(logging.Logger.manager.loggerDict)
    yield state
    for name in set(logging.Logger.manager.loggerDict) - loggers | {""}:
        log = logging.getLogger(name)
        for handler in [h for h in log.handlers if isinstance(h, LoggingHandler)]:
            log.removeHandler(handler)


def _leaked(records: list[Any]) -> list[str]:
    text = repr([(r.body, dict(r.attributes or {})) for r in records])
    return [secret for secret in PLANTED if secret in text]


def test_bodies_and_attributes_of_every_shape_are_redacted(exported: Exported) -> None:
    redact_exported_logs(exported.provider, exported.meter_provider)
    log = exported.handle("shop.orders")
    deep: Any = EMAIL
    for _ in range(40):
        deep = [deep]
    order = {
        "customer": EMAIL,
        "card": CARD,
        "number": 4111111111111111,
        "raw": f"paid with {CARD}".encode(),
        "items": [{"by": EMAIL}, ("card", CARD)],
        EMAIL: "vip",
        "deep": deep,
        "quantity": 3,
    }
    log.info(order, extra={"recipients": [EMAIL, "ops@example.org"], "cards": (CARD,), "note": f"for {EMAIL}"})
    (record,) = exported.records()
    assert _leaked([record]) == []
    body = record.body
    assert isinstance(body, Mapping)
    assert body["customer"] == "[REDACTED:email]" and body["card"] == "[REDACTED:card]"
    assert body["number"] == "[REDACTED:card]" and body["quantity"] == 3
    assert body["raw"] == b"paid with [REDACTED:card]"
    assert body["[REDACTED:email]"] == "vip"
    assert TOO_DEEP in repr(body["deep"])
    assert list(record.attributes["recipients"]) == ["[REDACTED:email]", "[REDACTED:email]"]
    assert list(record.attributes["cards"]) == ["[REDACTED:card]"]
    assert record.attributes["note"] == "for [REDACTED:email]"
    assert order["customer"] == EMAIL and order["items"] == [{"by": EMAIL}, ("card", CARD)]  # the app's own object


def test_redact_value_returns_what_needs_no_redaction_as_it_is() -> None:
    clean = ContentPolicy(Settings.from_env({})).redact_value
    value = {"a": ["b", 1, 2.5, None, True, b"\xff\xfe"], "c": ("d",)}
    assert clean(value) is value
    assert clean(b"\xff " + EMAIL.encode()) == b"\xff [REDACTED:email]"  # bytes that are not UTF-8 as well
    assert clean(_Card()) == "card [REDACTED:card]"  # anything else: its text


def test_records_are_redacted_not_cut_and_our_events_keep_their_length_note(exported: Exported) -> None:
    redact_exported_logs(exported.provider, exported.meter_provider)
    policy = ContentPolicy(Settings.from_env({}))
    long_prompt = policy.to_json([{"role": "user", "content": "x" * 9000}])  # cut to the content length, with a note
    emit_event(exported.provider.get_logger("events"), "gen_ai.test", {"gen_ai.input.messages": long_prompt}, None)
    exported.handle("shop.long").warning("%s paid by %s", "y" * 9000, EMAIL)
    event, log = exported.records()
    assert event.attributes["gen_ai.input.messages"] == long_prompt  # exported as our content policy left it
    assert log.body == "y" * 9000 + " paid by [REDACTED:email]"  # app log records are redacted, not cut


class _Card:
    def __str__(self) -> str:
        return f"card {CARD}"


def test_handlers_on_any_logger_added_before_or_after_are_covered(exported: Exported) -> None:
    before = exported.handle("shop")  # on SDK 1.27 its handler holds a logger made before the redaction
    redact_exported_logs(exported.provider, exported.meter_provider)
    after = exported.handle("shop.payments.gateway")
    root_handler = LoggingHandler(logger_provider=exported.provider)
    logging.getLogger().addHandler(root_handler)
    try:
        before.warning("order for %s", EMAIL)
        after.warning("paid with %s", CARD)
        logging.getLogger("elsewhere").warning("refund to %s", CARD)
    finally:
        logging.getLogger().removeHandler(root_handler)
    bodies = sorted(str(r.body) for r in exported.records())
    assert bodies == ["order for [REDACTED:email]", "paid with [REDACTED:card]", "refund to [REDACTED:card]"]


class _Unreadable(Mapping[str, str]):
    """A body the app logs whose items cannot be read: its redaction fails."""

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError(f"cannot list {EMAIL}")

    def __len__(self) -> int:
        return 1


def test_a_record_whose_redaction_fails_is_dropped_counted_and_reported_once(
    exported: Exported, caplog: pytest.LogCaptureFixture
) -> None:
    redact_exported_logs(exported.provider, exported.meter_provider)
    log = exported.handle("shop.audit")
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_kotaemon"):
        log.warning(_Unreadable())
        log.warning("order for %s", EMAIL)
        log.warning(_Unreadable())
    assert [r.body for r in exported.records()] == ["order for [REDACTED:email]"]
    assert exported.failures() == {"RuntimeError": 2}
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry_instrumentation_kotaemon")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("A log record was not exported: its redaction failed (RuntimeError)")
    assert "kotaemon.log_records.redaction_failures" in warnings[0] and EMAIL not in warnings[0]


class _SealedProcessors(SynchronousMultiLogRecordProcessor):
    """A release whose provider keeps its processors in another shape and takes no attribute from outside: one the
    redaction cannot be installed in."""

    def __init__(self) -> None:
        super().__init__()
        self._log_record_processors = []  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("on_emit", "emit"):
            raise AttributeError(name)
        super().__setattr__(name, value)


def test_when_the_redaction_cannot_be_installed_no_log_record_is_exported(caplog: pytest.LogCaptureFixture) -> None:
    exporter = InMemoryLogExporter()
    provider = LoggerProvider(shutdown_on_exit=False, multi_log_record_processor=_SealedProcessors())
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    state = Exported(provider, exporter, InMemoryMetricReader(), MeterProvider())
    before = state.handle("shop.sealed")
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_kotaemon"):
        redact_exported_logs(provider)
    after = state.handle("shop.sealed.later")
    try:
        before.warning("order for %s", EMAIL)
        after.warning("paid with %s", CARD)
    finally:
        for log in (before, after):
            log.handlers.clear()
    assert exporter.get_finished_logs() == ()
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry_instrumentation_kotaemon")]
    assert len(warnings) == 1 and warnings[0].startswith("Log records are not exported"), warnings


def test_a_provider_that_is_not_the_sdks_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="opentelemetry_instrumentation_kotaemon"):
        redact_exported_logs(NoOpLoggerProvider())
    assert caplog.records == []
