"""Retries of the OTLP exporters bounded by their export timeout, on exporter releases before 1.35.

Before 1.35 the exporters retry a refused connection (gRPC) or a 5xx answer (HTTP) with waits of 1, 2, 4 ... 32 s,
about a minute per batch whatever the timeout, and shutdown does not cut that short: an app's exit waited over a
minute for a collector that was down. The configurator builds its exporters from the classes this module returns:
on those releases, the waits of one export add up to at most its timeout (`OTEL_EXPORTER_OTLP_TIMEOUT` or the
per-signal variable, the user's if set), with at least one attempt and one 1 s wait. From 1.35 the exporters bound
their retries by the timeout themselves and are left as they are.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

_OLD_GRPC_MODULE = "opentelemetry.exporter.otlp.proto.grpc.exporter"


def retry_limit(timeout: float) -> int:
    """The backoff at which an old exporter gives up so that its waits add up to at most `timeout` seconds (it waits
    1, 2, 4 ... s and stops at this limit, after `limit - 1` s): never below 2, so that every export is tried once."""
    limit = 2
    while limit * 2 - 1 <= timeout:
        limit *= 2
    return limit


def _retries_past_timeout(exporter_class: type) -> str | None:
    """Which old retry loop `exporter_class` runs: `limit` (its class attribute `_MAX_RETRY_TIMEOUT` ends the
    retries), `deadline` (the gRPC loop before 1.34, which ends them only when `_shutdown` is set), or None."""
    if isinstance(getattr(exporter_class, "_MAX_RETRY_TIMEOUT", None), int):
        return "limit"
    module = sys.modules.get(_OLD_GRPC_MODULE)
    mixin = getattr(module, "OTLPExporterMixin", None)
    if (
        isinstance(mixin, type)
        and issubclass(exporter_class, mixin)
        and hasattr(module, "_create_exp_backoff_generator")
        and not hasattr(module, "_MAX_RETRYS")
    ):
        return "deadline"
    return None


def with_bounded_retries(exporter_class: Any) -> Any:
    """`exporter_class`, or for an OTLP exporter class before 1.35 a subclass whose retries end within the timeout."""
    try:
        loop = _retries_past_timeout(exporter_class)
    except Exception:  # internals we do not know: the exporter stays as it is
        return exporter_class
    if loop == "limit":
        return type(exporter_class.__name__, (_RetryLimitFromTimeout, exporter_class), {})
    if loop == "deadline":
        return type(exporter_class.__name__, (_RetryDeadlineFromTimeout, exporter_class), {})
    return exporter_class


class _RetryLimitFromTimeout:
    """Sets the exporter's retry limit from its timeout, for this instance only."""

    _timeout: float
    _MAX_RETRY_TIMEOUT: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._MAX_RETRY_TIMEOUT = retry_limit(self._timeout)


class _RetryDeadlineFromTimeout:
    """The old gRPC loop checks `_shutdown` before every attempt (after each wait): here it also reads as set once
    the export has run as long as `retry_limit` allows, so it stops after the same waits as the HTTP exporters."""

    _timeout: float
    _closed = False
    _retry_deadline = math.inf

    @property
    def _shutdown(self) -> bool:
        return self._closed or time.monotonic() >= self._retry_deadline

    @_shutdown.setter
    def _shutdown(self, value: bool) -> None:
        self._closed = value

    def _export(self, data: Any) -> Any:
        self._retry_deadline = time.monotonic() + retry_limit(self._timeout) - 1
        try:
            return super()._export(data)  # type: ignore[misc]
        finally:
            self._retry_deadline = math.inf
