"""One OTLP export attempt, whose result is seen directly: delivered, to be retried (and when), or rejected.

A transport sends through what the configured SDK exporter already set up (its gRPC stub, or its HTTP session or
client, with their endpoint, headers, compression, TLS), so every standard `OTEL_EXPORTER_OTLP_*` variable and
constructor argument keeps its meaning. It makes exactly one attempt; retries are the caller's.

Classified as the OTLP specification says: HTTP 429/502/503/504, connection errors and timeouts, gRPC `UNAVAILABLE`,
`RESOURCE_EXHAUSTED`, `DEADLINE_EXCEEDED` (and the other transient codes) are retried, with the server's
`Retry-After` or `RetryInfo` when it gives one; any other answer (400: the data is bad) is rejected, never retried.
"""

from __future__ import annotations

import enum
import inspect
import math
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from ...settings import without_userinfo

RETRYABLE_HTTP_STATUS = frozenset({429, 502, 503, 504})
"""The HTTP answers that mean "try again later" (OTLP/HTTP specification)."""
_RETRYABLE_GRPC_CODES = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
_SERVICE_METHODS = {
    "traces": "opentelemetry.proto.collector.trace.v1.trace_service_pb2.ExportTraceServiceRequest",
    "logs": "opentelemetry.proto.collector.logs.v1.logs_service_pb2.ExportLogsServiceRequest",
}


class Result(enum.Enum):
    """What became of one attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    """One attempt's result; `retry_after` is the server's wait in seconds when it named one."""

    result: Result
    detail: str = ""
    retry_after: float | None = None


DELIVERED = Outcome(Result.DELIVERED)


class Transport(Protocol):
    """Sends one OTLP request of one signal to the configured collector."""

    endpoint: str
    """Where it sends, as messages show it (no `user:password@`)."""

    def send(self, payload: bytes, timeout: float) -> Outcome:
        """Send a serialized request, waiting at most `timeout` seconds."""
        ...

    def send_message(self, message: Any, timeout: float) -> tuple[Outcome, bytes | None]:
        """Send a request message; returns the outcome and, unless delivered, the message serialized."""
        ...

    def close(self) -> None:
        """Shut the exporter down (its channel or session)."""
        ...


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP `Retry-After` value (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(when.timestamp() - time.time(), 0.0)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def http_outcome(status: int, reason: str, retry_after: str | None) -> Outcome:
    """The outcome of an HTTP answer."""
    if 200 <= status < 300:
        return DELIVERED
    detail = f"HTTP {status} {reason}".strip()
    if status in RETRYABLE_HTTP_STATUS:
        return Outcome(Result.RETRY, detail, retry_after_seconds(retry_after))
    return Outcome(Result.REJECTED, detail)


def _error_detail(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return without_userinfo(text if len(text) <= 200 else text[:200] + "...")


class HttpTransport:
    """OTLP/HTTP through the exporter's own client (SDK 1.4x: `_client`) or session (earlier releases)."""

    def __init__(self, exporter: Any) -> None:
        self.exporter = exporter
        client = getattr(exporter, "_client", None)
        self._client = client if hasattr(client, "_transport") and hasattr(client, "_compress") else None
        if self._client is None:
            export = exporter._export
            self._export = export
            self._export_takes_timeout = len(inspect.signature(export).parameters) >= 2
        self.endpoint = without_userinfo(str(exporter._endpoint))

    def send(self, payload: bytes, timeout: float) -> Outcome:
        try:
            if self._client is not None:
                return self._send_with_client(payload, timeout)
            response = self._export(payload, timeout) if self._export_takes_timeout else self._export(payload)
        except Exception as error:  # connection refused, reset, timed out
            return Outcome(Result.RETRY, _error_detail(error))
        return http_outcome(response.status_code, response.reason or "", response.headers.get("retry-after"))

    def _send_with_client(self, payload: bytes, timeout: float) -> Outcome:
        client = self._client
        assert client is not None
        result = client._transport.request(
            "POST", client._endpoint, headers=client._headers, data=client._compress(payload), timeout=timeout
        )
        if result.status_code is None:
            error = result.error
            return Outcome(Result.RETRY, _error_detail(error) if error is not None else "no answer")
        return http_outcome(result.status_code, result.reason or "", result.headers().get("retry-after"))

    def send_message(self, message: Any, timeout: float) -> tuple[Outcome, bytes | None]:
        payload = message.SerializePartialToString()
        outcome = self.send(payload, timeout)
        return outcome, None if outcome is DELIVERED else payload

    def close(self) -> None:
        self.exporter.shutdown()


class GrpcTransport:
    """OTLP/gRPC through the exporter's own stub (its channel, TLS, compression) and metadata."""

    def __init__(self, exporter: Any, signal: str) -> None:
        self.exporter = exporter
        self._request_type = _request_type(signal)
        # the exporter keeps host:port only; the environment gives it as the user wrote it
        from ..export_errors import endpoint

        self.endpoint = endpoint(signal.upper(), signal)

    def send(self, payload: bytes, timeout: float) -> Outcome:
        return self._export(self._request_type.FromString(payload), timeout)

    def send_message(self, message: Any, timeout: float) -> tuple[Outcome, bytes | None]:
        outcome = self._export(message, timeout)
        return outcome, None if outcome is DELIVERED else message.SerializePartialToString()

    def _export(self, message: Any, timeout: float) -> Outcome:
        exporter = self.exporter
        try:
            exporter._client.Export(request=message, metadata=exporter._headers, timeout=timeout)
        except Exception as error:
            return _grpc_outcome(error)
        return DELIVERED

    def close(self) -> None:
        self.exporter.shutdown()


def _grpc_outcome(error: Exception) -> Outcome:
    code = getattr(error, "code", None)
    name = getattr(code(), "name", "") if callable(code) else ""
    if not name:  # not an RPC error: the channel could not be used
        return Outcome(Result.RETRY, _error_detail(error))
    details = getattr(error, "details", None)
    detail = f"{name}: {details() if callable(details) else ''}".rstrip(": ")
    if name not in _RETRYABLE_GRPC_CODES:
        return Outcome(Result.REJECTED, detail)
    return Outcome(Result.RETRY, detail, _retry_info_seconds(error))


def _retry_info_seconds(error: Any) -> float | None:
    """The wait a gRPC server names in its `RetryInfo` trailer, if any."""
    try:
        from google.rpc.error_details_pb2 import RetryInfo

        binary = dict(error.trailing_metadata() or ()).get("google.rpc.retryinfo-bin")
        if binary is None:
            return None
        delay = RetryInfo.FromString(binary).retry_delay
        seconds: float = delay.seconds + delay.nanos / 1e9
        return max(seconds, 0.0)
    except Exception:
        return None


def _request_type(signal: str) -> Any:
    import importlib

    module, _, name = _SERVICE_METHODS[signal].rpartition(".")
    return getattr(importlib.import_module(module), name)


def for_exporter(exporter: Any, signal: str) -> Transport | None:
    """The transport through `exporter`, an SDK OTLP trace or log exporter (gRPC or http/protobuf); None for any
    other exporter, or one whose internals this release does not know (it then stays as it is)."""
    if signal not in _SERVICE_METHODS:
        return None
    module = type(exporter).__module__ or ""
    for base in type(exporter).__mro__:
        module = base.__module__ or ""
        if module.startswith("opentelemetry.exporter.otlp.proto.grpc"):
            return GrpcTransport(exporter, signal) if hasattr(exporter, "_client") else None
        if module.startswith("opentelemetry.exporter.otlp.proto.http"):
            try:
                return HttpTransport(exporter)
            except Exception:
                return None
    return None


def from_environment(signal: str) -> Transport:
    """A transport to the collector the environment names for `signal` ("traces" or "logs"), set up exactly as the
    SDK's OTLP exporter of the configured protocol would be; raises ValueError when it cannot be built."""
    from .exporters import build_otlp_exporter

    transport = for_exporter(build_otlp_exporter(signal), signal)
    if transport is None:
        raise ValueError(f"no OTLP exporter for {signal} in this environment")
    return transport


def send_payload(signal: str, payload: bytes) -> Outcome:
    """Send one serialized request of `signal` to the collector the environment names, within the export timeout."""
    from .exporters import export_timeout

    transport = from_environment(signal)
    try:
        return transport.send(payload, export_timeout(signal))
    finally:
        transport.close()
