"""Delivery of one signal's batches: sent at once while the collector takes them; kept and sent again, oldest first,
in a background thread while it does not.

The batch processor's worker calls `export`. With nothing pending it encodes the batch once and makes one attempt
(as the SDK's exporter would, without its retry loop). A batch the collector did not take goes into the store, and
from then on new batches join the store without an attempt, so the worker never waits on a collector that is away;
the sender thread resends the oldest with exponential backoff and jitter (or the server's `Retry-After`), until the
store is empty. A rejected batch (HTTP 400 and the like) is dropped and counted, never resent. One line says when
the collector went away, one when delivery resumed, one at exit what was not delivered.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ... import attributes as attr
from ...settings import (
    EXPORT_RETRY_MAX_AGE,
    EXPORT_RETRY_MAX_BYTES,
    SPOOL_DIR,
    SPOOL_MAX_AGE,
    SPOOL_MAX_BYTES,
    Setting,
    read_spool_directory,
)
from ..export_errors import report_export_failure
from .exporters import attempt_timeout
from .store import Batch, BatchStore, MemoryStore
from .transport import Outcome, Result, Transport, for_exporter

logger = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
"""Seconds before the first resend; doubled after each failed one, up to `MAX_BACKOFF`, with +-20% jitter."""
MAX_BACKOFF = 5.0
"""The longest wait between resends (unless the server asks for longer): what delivery lags the collector's return."""
EXIT_ATTEMPT_SECONDS = 0.5
"""At exit during an outage, the one last attempt waits this long at most (fast exit)."""
_ITEMS = {"traces": "spans", "logs": "log records"}
_ITEM = {"traces": "span", "logs": "log record"}


def deliver(signal: str, exporter: Any) -> Any:
    """`exporter` (an SDK OTLP exporter of "traces" or "logs") with our delivery around it; itself when its
    internals are unknown to us."""
    try:
        transport = for_exporter(exporter, signal)
    except Exception:
        logger.debug("no delivery for %r", exporter, exc_info=True)
        transport = None
    if transport is None:
        return exporter
    delivery = Delivery(signal, transport, _store(signal), attempt_timeout(exporter))
    return DeliveringSpanExporter(delivery) if signal == "traces" else DeliveringLogExporter(delivery)


def _store(signal: str) -> BatchStore:
    """The spool when `OTEL_KOTAEMON_SPOOL_DIR` is set and usable (after adopting what ended processes of the service
    left in it), else memory."""
    max_bytes, max_age = EXPORT_RETRY_MAX_BYTES.read(os.environ), EXPORT_RETRY_MAX_AGE.read(os.environ)
    directory = read_spool_directory()
    if directory:
        from ..spool import SpoolStore, service_name

        try:
            spool_bounds = SPOOL_MAX_BYTES.read(os.environ), SPOOL_MAX_AGE.read(os.environ)
            store = SpoolStore(Path(directory), service_name(), *spool_bounds, signal)
            store.adopt()
            return store
        except OSError as error:
            if directory not in _unusable_spools:  # one line, not one per signal
                _unusable_spools.add(directory)
                logger.warning(
                    "%s=%s cannot be used (%s): what the collector does not take is kept in memory instead.",
                    SPOOL_DIR.variable,
                    directory,
                    error.strerror or type(error).__name__,
                )
    return MemoryStore(max_bytes, max_age)


_unusable_spools: set[str] = set()


def _encoder(signal: str) -> Callable[[Sequence[Any]], Any]:
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return encode_spans  # type: ignore[no-any-return]
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return encode_logs  # type: ignore[no-any-return]


class _Counters:
    """Our export metrics. Made with the delivery, through the global meter provider's proxy (the SDK sets the real
    one up after the tracer provider): made later, at exit, they would ask a meter provider already shut down."""

    def __init__(self, signal: str) -> None:
        self._attributes = {attr.KOTAEMON_EXPORT_SIGNAL: signal}
        self._instruments: dict[str, Any] = {}
        try:
            self._instruments = _instruments()
        except Exception:
            logger.debug("could not make the export counters", exc_info=True)

    def add(self, name: str, items: int, reason: str | None = None) -> None:
        try:
            attributes = self._attributes if reason is None else {**self._attributes, attr.ERROR_TYPE: reason}
            if name in self._instruments:
                self._instruments[name].add(items, attributes)
        except Exception:
            logger.debug("could not count %s", name, exc_info=True)


@functools.cache  # one set for every signal: SDK 1.27 warns when an instrument is made twice
def _instruments() -> dict[str, Any]:
    from opentelemetry.metrics import get_meter

    from ...core.telemetry import INSTRUMENTATION_NAME
    from ...version import __version__

    meter = get_meter(INSTRUMENTATION_NAME, __version__)
    described = {
        attr.METRIC_EXPORT_QUEUED: "Spans and log records the collector did not take at once, kept to be sent again",
        attr.METRIC_EXPORT_RETRIED: "Spans and log records sent again",
        attr.METRIC_EXPORT_DELIVERED_AFTER_RETRY: "Spans and log records the collector took on a later attempt",
        attr.METRIC_EXPORT_DROPPED: "Spans and log records never delivered, by reason",
        attr.METRIC_EXPORT_SPOOLED: "Spans and log records written to the spool while the collector was away",
    }
    return {name: meter.create_counter(name, unit="{item}", description=text) for name, text in described.items()}


class Delivery:
    """Sends one signal's batches through `transport`, keeping in `store` what the collector does not take."""

    def __init__(self, signal: str, transport: Transport, store: BatchStore, timeout: float) -> None:
        self.signal = signal
        self.transport = transport
        self.store = store
        self._timeout = timeout
        self._encode = _encoder(signal)
        self._counters = _Counters(signal)
        self._spooled = hasattr(store, "adopt")
        self._condition = threading.Condition()
        self._holding = store.pending()[0] > 0  # a spool may hold what earlier processes left
        self._closed = False
        self._next_attempt = 0.0
        self._backoff = FIRST_BACKOFF
        self._thread: threading.Thread | None = None
        self._outage_started: float | None = None  # monotonic time of the first failed attempt of this outage
        self._outage_ended: float | None = None
        self._failing = False
        self._held_delivered = 0
        self._bound_dropped = 0
        self._rejections_reported = False
        _exit_report.register(self)
        if self._holding:
            self._start_sender()

    # --- the batch processor's side

    def export(self, batch: Sequence[Any]) -> bool:
        """Deliver `batch` or keep it to be sent again; False when the collector rejected it (or it could not be
        encoded)."""
        try:
            return self._export(batch)
        except Exception as error:
            report_export_failure(self.signal, f"{type(error).__name__}: {error}")
            return False

    def _export(self, batch: Sequence[Any]) -> bool:
        message = self._encode(batch)
        with self._condition:
            holding = self._holding or self._closed
        if holding:
            self._keep(Batch(self.signal, message.SerializePartialToString(), len(batch), time.time()))
            return True
        outcome, payload = self.transport.send_message(message, self._timeout)
        if outcome.result is Result.DELIVERED:
            return True
        assert payload is not None
        if outcome.result is Result.REJECTED:
            self._reject(len(batch), outcome)
            return False
        self._went_away(outcome)
        self._keep(Batch(self.signal, payload, len(batch), time.time()), outcome.retry_after)
        return True

    def _keep(self, batch: Batch, retry_after: float | None = None) -> None:
        evicted = self.store.put(batch)
        self._counters.add(attr.METRIC_EXPORT_SPOOLED if self._spooled else attr.METRIC_EXPORT_QUEUED, batch.items)
        self._drop_past_bound(evicted)
        with self._condition:
            if not self._holding:
                self._holding = True
                self._backoff = FIRST_BACKOFF
                self._next_attempt = time.monotonic() + max(retry_after or 0.0, self._jittered(FIRST_BACKOFF))
            self._condition.notify_all()
        self._start_sender()

    @property
    def _bytes_bound(self) -> Setting[int]:
        """The setting that bounds what is kept: the spool's, or memory's."""
        return SPOOL_MAX_BYTES if self._spooled else EXPORT_RETRY_MAX_BYTES

    @property
    def _age_bound(self) -> Setting[float]:
        """The setting that bounds how long a batch is kept: the spool's, or memory's."""
        return SPOOL_MAX_AGE if self._spooled else EXPORT_RETRY_MAX_AGE

    def _drop_past_bound(self, dropped: list[Batch]) -> None:
        items = sum(batch.items for batch in dropped)
        if not items:
            return
        self._counters.add(attr.METRIC_EXPORT_DROPPED, items, attr.DROP_REASON_BOUND)
        first = self._bound_dropped == 0
        self._bound_dropped += items
        if first:
            logger.warning(
                "The collector at %s has not taken %s for a while: the oldest are dropped to stay within %s=%d bytes "
                "and %s=%g s (%d so far; the count is in the metric %s).",
                self.transport.endpoint,
                _ITEMS[self.signal],
                self._bytes_bound.variable,
                self._bytes_bound.read(os.environ),
                self._age_bound.variable,
                self._age_bound.read(os.environ),
                items,
                attr.METRIC_EXPORT_DROPPED,
            )

    def _reject(self, items: int, outcome: Outcome) -> None:
        self._counters.add(attr.METRIC_EXPORT_DROPPED, items, attr.DROP_REASON_BAD_DATA)
        if self._rejections_reported:
            return
        self._rejections_reported = True
        logger.warning(
            "The collector at %s rejected %d %s (%s): they are dropped, not sent again. Check the collector's "
            "log; further rejections are counted in the metric %s.",
            self.transport.endpoint,
            items,
            _ITEMS[self.signal],
            outcome.detail,
            attr.METRIC_EXPORT_DROPPED,
        )

    def _went_away(self, outcome: Outcome) -> None:
        if self._failing:
            return
        self._failing = True
        if self._outage_started is None:
            self._outage_started = time.monotonic()
        logger.warning(
            "Could not export %s to %s (%s). The app is not affected: they are kept (up to %s=%d bytes, %g s) and "
            "sent again when the collector is back. Check that the collector is running, reachable there "
            "(OTEL_EXPORTER_OTLP_ENDPOINT) and not overloaded.",
            self.signal,
            self.transport.endpoint,
            outcome.detail,
            self._bytes_bound.variable,
            self._bytes_bound.read(os.environ),
            self._age_bound.read(os.environ),
        )

    # --- the sender thread

    def _start_sender(self) -> None:
        with self._condition:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._send_held, name=f"kotaemon-{self.signal}-delivery")
            self._thread.daemon = True
            self._thread.start()

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(0.8, 1.2)

    def _send_held(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._holding or time.monotonic() < self._next_attempt):
                    wait = None if not self._holding else self._next_attempt - time.monotonic()
                    self._condition.wait(wait)
                if self._closed:
                    return
            try:
                self._send_oldest(self._timeout)
            except Exception:  # never let the thread die: what is held would never be sent
                logger.debug("delivery of held %s failed", self.signal, exc_info=True)
                with self._condition:
                    self._next_attempt = time.monotonic() + MAX_BACKOFF

    def _send_oldest(self, timeout: float) -> Outcome | None:
        """One attempt at the oldest held batch; None when nothing is held (delivery then resumes its normal way)."""
        self._drop_past_bound(self.store.expire(time.time()))
        batch = self.store.oldest()
        if batch is None:
            self._drained()
            return None
        self._counters.add(attr.METRIC_EXPORT_RETRIED, batch.items)
        outcome = self.transport.send(batch.payload, timeout)
        if outcome.result is Result.RETRY:
            self._went_away(outcome)
            with self._condition:
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                wait = max(outcome.retry_after or 0.0, self._jittered(self._backoff))
                self._next_attempt = time.monotonic() + min(wait, EXPORT_RETRY_MAX_AGE.read(os.environ))
            return outcome
        self.store.remove(batch)
        if outcome.result is Result.REJECTED:
            self._reject(batch.items, outcome)
            return outcome
        self._counters.add(attr.METRIC_EXPORT_DELIVERED_AFTER_RETRY, batch.items)
        self._held_delivered += batch.items
        if self._failing:
            self._failing = False
            self._outage_ended = time.monotonic()
        with self._condition:
            self._backoff = FIRST_BACKOFF
        return outcome

    def _drained(self) -> None:
        with self._condition:
            if self.store.pending()[0]:
                return
            self._holding = False
        if self._held_delivered:
            dropped = f" ({self._bound_dropped:,} dropped past the bound)" if self._bound_dropped else ""
            held = _count(self._held_delivered, self.signal)
            if self._outage_started is None:  # no attempt of this process failed: all came from the spool
                logger.warning(
                    "Export of %s to %s: delivered %s that earlier processes of this service left in the spool%s.",
                    self.signal,
                    self.transport.endpoint,
                    held,
                    dropped,
                )
            else:
                ended = self._outage_ended or time.monotonic()
                logger.warning(
                    "Export of %s to %s resumed: delivered %s held during a %.0f s outage%s.",
                    self.signal,
                    self.transport.endpoint,
                    held,
                    ended - self._outage_started,
                    dropped,
                )
        self._held_delivered = self._bound_dropped = 0
        self._outage_started = self._outage_ended = None

    # --- flush and exit

    def flush(self, timeout: float) -> bool:
        """Send what is held, oldest first, for at most `timeout` seconds (during an outage one short attempt)."""
        deadline = time.monotonic() + timeout
        attempt = min(EXIT_ATTEMPT_SECONDS, self._timeout) if self._failing else self._timeout
        while self.store.pending()[0]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            outcome = self._send_oldest(min(attempt, remaining))
            if outcome is not None and outcome.result is Result.RETRY:
                return False
            attempt = self._timeout
        self._drained()
        return True

    def shutdown(self) -> None:
        """Stop the sender, give what is held one last bounded chance (none while the sender's own attempt hangs:
        that was it), then report what was not delivered."""
        with self._condition:
            if self._closed:
                return
            self._closed = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(0.1)  # it may be in an attempt of its own: the last chance, then
        try:
            if self._holding and (thread is None or not thread.is_alive()):
                self.flush(self._timeout)
            items = self.store.pending()[1]
            if items and not self._spooled:
                self._counters.add(attr.METRIC_EXPORT_DROPPED, items, attr.DROP_REASON_EXIT)
            _exit_report.ended(self, items)
        finally:
            self.store.close()
            try:
                self.transport.close()
            except Exception:
                logger.debug("could not shut the %s exporter down", self.signal, exc_info=True)


class _ExitReport:
    """Gathers what each delivery could not send by exit, and says it in one line once the last one has ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[Delivery] = weakref.WeakSet()  # one never shut down does not hold the line
        self._undelivered: list[tuple[Delivery, int]] = []

    def register(self, delivery: Delivery) -> None:
        with self._lock:
            self._open.add(delivery)

    def ended(self, delivery: Delivery, items: int) -> None:
        with self._lock:
            self._open.discard(delivery)
            if items:
                self._undelivered.append((delivery, items))
            if self._open or not self._undelivered:
                return
            undelivered, self._undelivered = self._undelivered, []
        counts = ", ".join(_count(items, delivery.signal) for delivery, items in undelivered)
        endpoints = sorted({delivery.transport.endpoint for delivery, _ in undelivered})
        origins = {_origin(endpoint) for endpoint in endpoints}
        if len(origins) == 1:  # http/protobuf: one collector, a path per signal
            endpoints = sorted(origins)
        spools = sorted({str(getattr(d.store, "directory", "")) for d, _ in undelivered if d._spooled})
        where = "the collector at " if len(endpoints) == 1 else "the collectors at "
        if spools:
            logger.warning(
                "%s not delivered yet: %s%s did not answer. They are kept in %s and sent by the next start of this "
                "service (or by `opentelemetry-kotaemon spool --send`).",
                counts,
                where,
                ", ".join(endpoints),
                ", ".join(spools),
            )
        else:
            logger.warning("%s not delivered: %s%s did not answer", counts, where, ", ".join(endpoints))


_exit_report = _ExitReport()


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else endpoint


def _count(items: int, signal: str) -> str:
    return f"{items:,} {_ITEM[signal] if items == 1 else _ITEMS[signal]}"


def _success(result_type: Any, ok: bool) -> Any:
    return result_type.SUCCESS if ok else result_type.FAILURE


def _log_exporter_base() -> tuple[type, Any]:
    from opentelemetry.sdk._logs import export

    base = getattr(export, "LogRecordExporter", None) or export.LogExporter
    result = getattr(export, "LogRecordExportResult", None) or export.LogExportResult
    return base, result


_LogExporterBase, _LogExportResult = _log_exporter_base()


class DeliveringSpanExporter(SpanExporter):  # type: ignore[misc]
    """The span exporter the batch processor is given: our delivery through the configured OTLP exporter."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def export(self, spans: Sequence[Any]) -> Any:
        return _success(SpanExportResult, self.delivery.export(spans))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delivery.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.delivery.shutdown()


class DeliveringLogExporter(_LogExporterBase):  # type: ignore[misc, valid-type]
    """The log record exporter the batch processor is given: our delivery through the configured OTLP exporter."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def export(self, batch: Sequence[Any]) -> Any:
        return _success(_LogExportResult, self.delivery.export(batch))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delivery.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.delivery.shutdown()
