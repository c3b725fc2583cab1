"""Redaction of every exported log record, in the logger provider itself.

The SDK's loggers hand each record to their provider's processor list, which hands it to every processor (the
exporting ones, and any added later). The redaction sits in front of that list: each record is redacted (body and
attributes, whatever their shape) before any processor sees it, and a record whose redaction fails reaches none of
them: it is dropped, counted in `kotaemon.log_records.redaction_failures`, and the first one is reported in one
warning. Every handler is covered, on the root logger or a named one, added before or after, since all of them emit
through the provider. Works with the SDK's old (`emit(log_data)`, before 1.35) and new (`on_emit(log_record)`)
processor interfaces.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from .. import attributes as attr
from ..core.telemetry import error_type

logger = logging.getLogger(__name__)

_DISPATCH = ("on_emit", "emit")
"""The method the SDK's loggers call on their provider's processor list: `on_emit` from 1.35, `emit` before."""
# ids and names that identify a record, never data (SDKs before 1.28 carry an event's name as an attribute)
_ID_ATTRIBUTES = frozenset({"otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName", "event.name"})
"""Trace ids the log record factory adds: hex and digits that are no personal data (a run of digits in one could
look like a card number)."""


class LogRedaction:
    """Redacts each log record before the provider's processors see it, or drops it when that fails."""

    def __init__(self, redact_value: Callable[[Any], Any], count_failure: Callable[[str], None]) -> None:
        self._redact = redact_value
        self._count_failure = count_failure
        self._warned = False
        self._lock = threading.Lock()

    def install(self, provider: object) -> bool:
        """Put the redaction in front of `provider`'s processors; False when this provider does not let us."""
        processors = getattr(provider, "_multi_log_record_processor", None)
        names = [name for name in _DISPATCH if callable(getattr(processors, name, None))]
        if processors is None or not names:
            return False
        installed: list[str] = []
        try:
            for name in names:
                forward = getattr(processors, name)
                if not isinstance(forward, _Guard):
                    setattr(processors, name, _Guard(self, forward))
                    installed.append(name)
        except (AttributeError, TypeError):  # a processor list that takes no attribute of ours
            for name in installed:
                delattr(processors, name)
            return False
        return True

    def redact(self, data: Any) -> None:
        """Redact one record in place (`data` is the SDK's `LogData` or `ReadWriteLogRecord`); raises when it cannot."""
        record = data.log_record
        body = record.body
        cleaned = self._redact(body)
        if cleaned is not body:
            record.body = cleaned
        attributes: MutableMapping[str, Any] | None = record.attributes
        if not attributes:
            return
        redact = self._redact
        for key, value in list(attributes.items()):  # keys are names the code chose, like span attribute names
            if key in _ID_ATTRIBUTES:
                continue
            new_value = redact(value)
            if new_value is not value:
                attributes[key] = new_value

    def dropped(self, error: Exception) -> None:
        """Count a record whose redaction failed; the first one of the process is reported."""
        try:
            self._count_failure(error_type(error))
        except Exception:
            logger.debug("could not count a log record whose redaction failed", exc_info=True)
        with self._lock:
            if self._warned:
                return
            self._warned = True
        logger.warning(
            "A log record was not exported: its redaction failed (%s). Records whose redaction fails are dropped and "
            "counted in the %s metric; this is reported once.",
            error_type(error),
            attr.METRIC_LOG_REDACTION_FAILURES,
        )


class _Guard:
    """The processor list's dispatch method, behind the redaction: the processors see redacted records only."""

    __slots__ = ("forward", "redaction")

    def __init__(self, redaction: LogRedaction, forward: Callable[[Any], Any]) -> None:
        self.redaction = redaction
        self.forward = forward

    def __call__(self, data: Any) -> Any:
        try:
            self.redaction.redact(data)
        except Exception as error:
            self.redaction.dropped(error)
            return None
        return self.forward(data)
