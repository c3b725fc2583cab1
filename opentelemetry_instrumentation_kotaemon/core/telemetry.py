"""The telemetry core: spans, metrics, events, content policy and the count-once rule for model calls.

Integrations describe a call in a `ModelCall` record and run it through `Telemetry.start_model_call`; everything
that knows about OpenTelemetry lives here.
"""

from __future__ import annotations

import inspect
import logging
import time
import traceback
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber, get_logger
from opentelemetry.metrics import Histogram, get_meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .. import attributes as attr
from ..settings import Settings
from ..version import __version__
from .content import ContentPolicy, output_messages_json
from .records import ModelCall

logger = logging.getLogger(__name__)

SCOPE_NAME = "opentelemetry_instrumentation_kotaemon"
_ACTIVE_CALL_KEY = otel_context.create_key("kotaemon-active-model-call")
_SUPPRESS_KEYS = ("suppress_instrumentation", otel_context._SUPPRESS_INSTRUMENTATION_KEY)  # type: ignore[attr-defined]

# Operations that describe the same kind of request: an inner call of the same family inside an outer one is
# the same request seen from a lower layer (LangChain -> OpenAI client), so it is merged, not counted again.
_FAMILY = {
    attr.OPERATION_CHAT: "generate",
    attr.OPERATION_TEXT_COMPLETION: "generate",
    attr.OPERATION_EMBEDDINGS: "embed",
}


def error_type(error: BaseException) -> str:
    """A low-cardinality `error.type`: the exception's public dotted name (``openai.RateLimitError``)."""
    cls = type(error)
    module = ".".join(part for part in cls.__module__.split(".") if not part.startswith("_"))
    if module in ("", "builtins"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _create_histogram(meter: Any, name: str, unit: str, description: str, buckets: tuple[float, ...]) -> Histogram:
    try:
        histogram: Histogram = meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
        )
        return histogram
    except TypeError:  # API < 1.28 has no bucket advice; the configurator sets views instead
        fallback: Histogram = meter.create_histogram(name, unit=unit, description=description)
        return fallback


_LOG_RECORD_TAKES_CONTEXT = "context" in inspect.signature(LogRecord.__init__).parameters


class Telemetry:
    """Owns the tracer, the meters, the content policy and the lifecycle of every model call."""

    def __init__(
        self,
        settings: Settings,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        self.settings = settings
        self.enabled = True
        self.content = ContentPolicy(settings)
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        meter = get_meter(SCOPE_NAME, __version__, meter_provider)
        self.duration = _create_histogram(
            meter, attr.METRIC_OPERATION_DURATION, "s", "GenAI operation duration", attr.DURATION_BUCKETS
        )
        self.token_usage = _create_histogram(
            meter,
            attr.METRIC_TOKEN_USAGE,
            "{token}",
            "Number of input and output tokens used",
            attr.TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = _create_histogram(
            meter,
            attr.METRIC_TIME_TO_FIRST_CHUNK,
            "s",
            "Time from the request to the first chunk of a streamed response",
            attr.DURATION_BUCKETS,
        )
        self.streams_abandoned = meter.create_counter(
            attr.METRIC_STREAMS_ABANDONED,
            unit="{stream}",
            description="Streams the caller stopped reading early",
        )
        self._event_logger = (
            get_logger(SCOPE_NAME, __version__, logger_provider) if self.content.mode.as_event else None
        )

    @property
    def captures_content(self) -> bool:
        """Whether integrations should build prompt and completion content at all."""
        return self.content.captured

    def start_model_call(self, call: ModelCall) -> ModelCallScope | None:
        """Open the telemetry for a model call; None when instrumentation is suppressed in this context."""
        current = otel_context.get_current()
        for key in _SUPPRESS_KEYS:
            if current.get(key):
                return None
        outer = current.get(_ACTIVE_CALL_KEY)
        if isinstance(outer, ModelCallScope) and not outer.finished and outer.same_request(call):
            merged = ModelCallScope(self, call, None, current, outer)
            merged.context = otel_context.set_value(_ACTIVE_CALL_KEY, merged, current)
            return merged
        span = self.tracer.start_span(
            f"{call.operation} {call.request_model}" if call.request_model else call.operation,
            kind=SpanKind.CLIENT,
            attributes=_start_attributes(call),
        )
        ctx = trace.set_span_in_context(span, current)
        scope = ModelCallScope(self, call, span, ctx, None)
        scope.context = otel_context.set_value(_ACTIVE_CALL_KEY, scope, ctx)
        if span.is_recording():
            span.set_attributes(_request_attributes(call))
            if self.content.mode.on_span:
                span.set_attributes(self._request_content(call))
        return scope

    def _request_content(self, call: ModelCall) -> dict[str, Any]:
        content = self.content
        values: dict[str, Any] = {}
        if call.input_messages is not None:
            values[attr.GEN_AI_INPUT_MESSAGES] = content.to_json(call.input_messages)
        if call.system_instructions is not None:
            values[attr.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(call.system_instructions)
        if call.tool_definitions is not None:
            values[attr.GEN_AI_TOOL_DEFINITIONS] = content.to_json(call.tool_definitions)
        return values

    def _response_content(self, call: ModelCall) -> dict[str, Any]:
        if call.output_messages is None:
            return {}
        return {attr.GEN_AI_OUTPUT_MESSAGES: self.content.to_json(output_messages_json(call.output_messages))}

    def finish_model_call(self, scope: ModelCallScope, error: BaseException | None) -> None:
        """Close the span, record metrics and emit the content event of a finished call."""
        call = scope.call
        span = scope.span
        if span is None:
            if scope.outer is not None:
                scope.outer.call.merge_response(call)
            return
        duration = time.perf_counter() - scope.started
        try:
            metric_attributes = _metric_attributes(call, error)
            self.duration.record(duration, metric_attributes)
            if call.input_tokens is not None:
                self.token_usage.record(
                    call.input_tokens, {**metric_attributes, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_INPUT}
                )
            if call.output_tokens is not None:
                self.token_usage.record(
                    call.output_tokens, {**metric_attributes, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_OUTPUT}
                )
            if call.time_to_first_chunk is not None:
                self.time_to_first_chunk.record(call.time_to_first_chunk, metric_attributes)
            if call.abandoned:
                self.streams_abandoned.add(1, metric_attributes)
            if span.is_recording():
                span.set_attributes(_response_attributes(call))
                if self.content.mode.on_span:
                    span.set_attributes(self._response_content(call))
                if error is not None:
                    self._record_error(span, error)
            if self._event_logger is not None:
                self._emit_content_event(scope)
        except Exception:  # never let telemetry break the call
            logger.debug("failed to record a model call", exc_info=True)
        finally:
            span.end()

    def _record_error(self, span: Span, error: BaseException) -> None:
        message = self.content.clean(str(error))
        kind = error_type(error)
        span.set_attribute(attr.ERROR_TYPE, kind)
        status_code = getattr(error, "status_code", None)
        if isinstance(status_code, int):
            span.set_attribute(attr.HTTP_RESPONSE_STATUS_CODE, status_code)
        span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        span.add_event(
            "exception",
            {
                "exception.type": kind,
                "exception.message": message,
                "exception.stacktrace": self.content.clean(stack),
                "exception.escaped": True,
            },
        )

    def _emit_content_event(self, scope: ModelCallScope) -> None:
        call = scope.call
        attributes = {
            attr.GEN_AI_OPERATION_NAME: call.operation,
            attr.GEN_AI_PROVIDER_NAME: call.provider,
            **self._request_content(call),
            **self._response_content(call),
        }
        if call.request_model:
            attributes[attr.GEN_AI_REQUEST_MODEL] = call.request_model
        now = time.time_ns()
        if _LOG_RECORD_TAKES_CONTEXT:
            record = LogRecord(  # type: ignore[call-arg]
                timestamp=now,
                observed_timestamp=now,
                context=scope.context,
                attributes=attributes,
                event_name=attr.EVENT_INFERENCE_DETAILS,
            )
        else:  # API < 1.28: the SDK wants its own record type, carrying the resource
            from opentelemetry.sdk._logs import LogRecord as SdkLogRecord  # type: ignore[attr-defined]

            span_context = scope.span.get_span_context() if scope.span is not None else None
            record = SdkLogRecord(
                timestamp=now,
                observed_timestamp=now,
                trace_id=span_context.trace_id if span_context else None,
                span_id=span_context.span_id if span_context else None,
                trace_flags=span_context.trace_flags if span_context else None,
                resource=getattr(self._event_logger, "resource", None),
                body="",  # its OTLP encoder rejects an empty body or severity
                severity_number=SeverityNumber.INFO,
                attributes={**attributes, "event.name": attr.EVENT_INFERENCE_DETAILS},
            )
        assert self._event_logger is not None
        self._event_logger.emit(record)


class ModelCallScope:
    """The live telemetry of one model call: its span (None when merged into an outer call) and timing."""

    __slots__ = ("call", "context", "finished", "outer", "span", "started", "telemetry")

    def __init__(
        self,
        telemetry: Telemetry,
        call: ModelCall,
        span: Span | None,
        context: otel_context.Context,
        outer: ModelCallScope | None,
    ) -> None:
        self.telemetry = telemetry
        self.call = call
        self.span = span
        self.context = context
        self.outer = outer
        self.started = time.perf_counter()
        self.finished = False

    def same_request(self, inner: ModelCall) -> bool:
        """Whether `inner` is this call seen from a lower layer (same kind of operation)."""
        return _FAMILY.get(self.call.operation) == _FAMILY.get(inner.operation)

    def activate(self) -> object:
        """Make this call's span current (for work done on its behalf); returns a token for `deactivate`."""
        return otel_context.attach(self.context)

    @staticmethod
    def deactivate(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    def on_chunk(self) -> None:
        """Count a streamed chunk handed to the caller; the first one fixes the time to first chunk."""
        call = self.call
        if call.chunk_count == 0:
            call.time_to_first_chunk = time.perf_counter() - self.started
        call.chunk_count += 1

    def finish(self, error: BaseException | None = None, abandoned: bool = False) -> None:
        """End the call once; later calls do nothing. Never raises."""
        if self.finished:
            return
        self.finished = True
        if abandoned and error is None:
            self.call.abandoned = True
        try:
            self.telemetry.finish_model_call(self, error)
        except Exception:
            logger.debug("failed to finish a model call", exc_info=True)


def current_model_call() -> ModelCall | None:
    """The model call whose span is current, if any (used to count client retries)."""
    scope = otel_context.get_value(_ACTIVE_CALL_KEY)
    return scope.call if isinstance(scope, ModelCallScope) else None


def _start_attributes(call: ModelCall) -> dict[str, Any]:
    values: dict[str, Any] = {
        attr.GEN_AI_OPERATION_NAME: call.operation,
        attr.GEN_AI_PROVIDER_NAME: call.provider,
        attr.GEN_AI_SYSTEM: call.provider,
    }
    if call.request_model:
        values[attr.GEN_AI_REQUEST_MODEL] = call.request_model
    if call.server_address:
        values[attr.SERVER_ADDRESS] = call.server_address
        if call.server_port:
            values[attr.SERVER_PORT] = call.server_port
    return values


_REQUEST_FIELDS: tuple[tuple[str, str], ...] = (
    ("temperature", attr.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", attr.GEN_AI_REQUEST_TOP_P),
    ("top_k", attr.GEN_AI_REQUEST_TOP_K),
    ("max_tokens", attr.GEN_AI_REQUEST_MAX_TOKENS),
    ("stop_sequences", attr.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", attr.GEN_AI_REQUEST_SEED),
    ("choice_count", attr.GEN_AI_REQUEST_CHOICE_COUNT),
    ("frequency_penalty", attr.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", attr.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("encoding_formats", attr.GEN_AI_REQUEST_ENCODING_FORMATS),
    ("output_type", attr.GEN_AI_OUTPUT_TYPE),
)

_RESPONSE_FIELDS: tuple[tuple[str, str], ...] = (
    ("response_id", attr.GEN_AI_RESPONSE_ID),
    ("response_model", attr.GEN_AI_RESPONSE_MODEL),
    ("input_tokens", attr.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", attr.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_input_tokens", attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("reasoning_output_tokens", attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ("embedding_dimensions", attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
    ("system_fingerprint", attr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ("service_tier", attr.OPENAI_RESPONSE_SERVICE_TIER),
    ("time_to_first_chunk", attr.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
)


def _fields(call: ModelCall, fields: tuple[tuple[str, str], ...], values: dict[str, Any]) -> dict[str, Any]:
    for name, key in fields:
        value = getattr(call, name)
        if value is not None:
            values[key] = value
    return values


def _request_attributes(call: ModelCall) -> dict[str, Any]:
    values = _fields(call, _REQUEST_FIELDS, {})
    if call.streaming:
        values[attr.GEN_AI_REQUEST_STREAM] = True
    return values


def _response_attributes(call: ModelCall) -> dict[str, Any]:
    values = _fields(call, _RESPONSE_FIELDS, {})
    if call.finish_reasons:
        values[attr.GEN_AI_RESPONSE_FINISH_REASONS] = call.finish_reasons
    if call.server_address:  # an inner layer may have learned it
        values[attr.SERVER_ADDRESS] = call.server_address
        if call.server_port:
            values[attr.SERVER_PORT] = call.server_port
    if call.retries:
        values[attr.HTTP_REQUEST_RESEND_COUNT] = call.retries
    if call.streaming:
        values[attr.KOTAEMON_STREAM_CHUNK_COUNT] = call.chunk_count
        values[attr.KOTAEMON_STREAM_ABANDONED] = call.abandoned
        if call.stream_usage_requested:
            values[attr.KOTAEMON_STREAM_USAGE_INJECTED] = True
    return values


def _metric_attributes(call: ModelCall, error: BaseException | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        attr.GEN_AI_OPERATION_NAME: call.operation,
        attr.GEN_AI_PROVIDER_NAME: call.provider,
        attr.GEN_AI_SYSTEM: call.provider,
    }
    if call.request_model:
        values[attr.GEN_AI_REQUEST_MODEL] = call.request_model
    if call.response_model:
        values[attr.GEN_AI_RESPONSE_MODEL] = call.response_model
    if call.server_address:
        values[attr.SERVER_ADDRESS] = call.server_address
        if call.server_port:
            values[attr.SERVER_PORT] = call.server_port
    if error is not None:
        values[attr.ERROR_TYPE] = error_type(error)
    return values
