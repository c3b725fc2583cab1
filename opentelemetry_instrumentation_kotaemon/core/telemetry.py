"""The telemetry core: spans, metrics, events, content policy and the count-once rule.

Integrations describe what happens in plain records (`ModelCall` for model requests, `StepCall` for retrieval,
re-ranking, tools, agents and pipelines) and run them through `Telemetry`; everything that knows about
OpenTelemetry lives here.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry._logs import get_logger
from opentelemetry.metrics import get_meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .. import attributes as attr
from ..settings import Settings
from ..version import __version__
from .content import ContentPolicy, output_messages_json
from .events import emit_event
from .instruments import Instruments, add_server, identify
from .records import ModelCall, StepCall

logger = logging.getLogger(__name__)

SCOPE_NAME = "opentelemetry_instrumentation_kotaemon"
_ACTIVE_CALL_KEY = otel_context.create_key("kotaemon-active-model-call")
_ACTIVE_STEP_KEY = otel_context.create_key("kotaemon-active-step")
_ROOT_STEP_KEY = otel_context.create_key("kotaemon-root-step")
_SUPPRESS_KEY = otel_context._SUPPRESS_INSTRUMENTATION_KEY  # type: ignore[attr-defined]
_LEGACY_SUPPRESS_KEY = "suppress_instrumentation"

# Operations that describe the same kind of request: an inner call of the same family inside an outer one is
# the same request seen from a lower layer (Kotaemon -> LangChain -> OpenAI client), so it is merged into the
# outer call, not counted again.
_FAMILY = {
    attr.OPERATION_CHAT: "generate",
    attr.OPERATION_TEXT_COMPLETION: "generate",
    attr.OPERATION_EMBEDDINGS: "embed",
}
# Span name verbs for steps whose kind has no GenAI operation.
_STEP_VERBS = {attr.KIND_RERANKER: "rerank", attr.KIND_INDEXING: "index"}


def error_type(error: BaseException) -> str:
    """A low-cardinality `error.type`: the exception's public dotted name (``openai.RateLimitError``)."""
    cls = type(error)
    module = ".".join(part for part in cls.__module__.split(".") if not part.startswith("_"))
    if module in ("", "builtins"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _suppressed(current: otel_context.Context) -> bool:
    return bool(current.get(_SUPPRESS_KEY) or current.get(_LEGACY_SUPPRESS_KEY))


class Telemetry:
    """Owns the tracer, the instruments, the content policy and the lifecycle of every call and step."""

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
        self.instruments = Instruments(get_meter(SCOPE_NAME, __version__, meter_provider))
        self._event_logger = (
            get_logger(SCOPE_NAME, __version__, logger_provider) if self.content.mode.as_event else None
        )

    @property
    def captures_content(self) -> bool:
        """Whether integrations should build prompt, completion and document content at all."""
        return self.content.captured

    # --- model calls

    def start_model_call(self, call: ModelCall) -> ModelCallScope | None:
        """Open the telemetry of a model call; None when instrumentation is suppressed in this context.

        Inside an unfinished call of the same family (an outer layer of the same request), the returned scope has
        no span: when it finishes, what it learned is merged into the outer call, which reports it once.
        """
        current = otel_context.get_current()
        if _suppressed(current):
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
            values = _request_attributes(call)
            values.update(self._baggage_attributes(current))
            if self.content.on_span:
                values.update(self._request_content(call))
            span.set_attributes(values)
        return scope

    def _baggage_attributes(self, context: otel_context.Context) -> dict[str, Any]:
        """Context the app set once for everything (conversation, session, user, `kotaemon.*` tags), from baggage."""
        entries = baggage.get_all(context)
        if not entries:
            return {}
        keys = self.settings.baggage_keys
        values: dict[str, Any] = {}
        for key, value in entries.items():
            if key in keys or key.startswith("kotaemon."):
                text = str(value)
                if key == "user.id" and self.settings.hash_user_id:
                    text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
                values[key] = self.content.clean(text)
        return values

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

    def _finish_model_call(self, scope: ModelCallScope, error: BaseException | None) -> None:
        call = scope.call
        span = scope.span
        if span is None:
            if scope.outer is not None:
                scope.outer.call.merge_response(call)
            return
        duration = time.perf_counter() - scope.started
        try:
            error_name = error_type(error) if error is not None else None
            self.instruments.model_call(call, duration, error, error_name)
            root = scope.context.get(_ROOT_STEP_KEY)
            if isinstance(root, StepScope) and _FAMILY.get(call.operation) == "generate":  # LLM calls only
                root.add_tokens(call.input_tokens, call.output_tokens)
            if span.is_recording():
                values = _response_attributes(call, failed=error is not None)
                if self.content.on_span:
                    values.update(self._response_content(call))
                span.set_attributes(values)
                if error is not None:
                    self._record_error(span, error, error_name)
            if self._event_logger is not None:
                event = {
                    attr.GEN_AI_OPERATION_NAME: call.operation,
                    attr.GEN_AI_PROVIDER_NAME: call.provider,
                    **self._request_content(call),
                    **self._response_content(call),
                }
                if call.request_model:
                    event[attr.GEN_AI_REQUEST_MODEL] = call.request_model
                emit_event(self._event_logger, attr.EVENT_INFERENCE_DETAILS, event, scope.context)
        except Exception:  # never let telemetry break the call
            logger.debug("failed to record a model call", exc_info=True)
        finally:
            span.end()

    # --- steps

    def start_step(self, step: StepCall) -> StepScope | None:
        """Open the telemetry of a step; None when suppressed.

        A step of the same kind and owner as the innermost active step is that step seen again through another
        method (`__call__` -> `run` -> `invoke`): the returned scope has no span and records nothing.
        """
        current = otel_context.get_current()
        if _suppressed(current):
            return None
        active = current.get(_ACTIVE_STEP_KEY)
        if (
            isinstance(active, StepScope)
            and step.owner is not None
            and active.step.owner is step.owner
            and active.step.kind == step.kind
            and not active.finished
        ):
            return StepScope(self, step, None, current)
        verb = step.operation or _STEP_VERBS.get(step.kind)
        span = self.tracer.start_span(
            f"{verb} {step.name}" if verb else step.name,
            kind=SpanKind.CLIENT if step.kind == attr.KIND_RETRIEVER else SpanKind.INTERNAL,
            attributes=_step_start_attributes(step),
        )
        ctx = otel_context.set_value(_ACTIVE_STEP_KEY, None, trace.set_span_in_context(span, current))
        scope = StepScope(self, step, span, ctx)
        ctx = otel_context.set_value(_ACTIVE_STEP_KEY, scope, ctx)
        if not isinstance(current.get(_ROOT_STEP_KEY), StepScope):
            ctx = otel_context.set_value(_ROOT_STEP_KEY, scope, ctx)
            scope.is_root = True
        scope.context = ctx
        if span.is_recording():
            values = self._baggage_attributes(current)
            if step.content and self.content.on_span:
                values.update(self._content_attributes(step.content))
            if values:
                span.set_attributes(values)
        return scope

    def _content_attributes(self, content: dict[str, Any]) -> dict[str, Any]:
        clean = self.content
        return {key: clean.clean(v) if isinstance(v, str) else clean.to_json(v) for key, v in content.items()}

    def _finish_step(self, scope: StepScope, error: BaseException | None) -> None:
        span = scope.span
        if span is None:
            return
        step = scope.step
        try:
            error_name = error_type(error) if error is not None else None
            if error_name is None and step.failure is not None:
                error_name = "failed"
            self.instruments.step(step, time.perf_counter() - scope.started, error_name)
            if span.is_recording():
                values = dict(step.result_attributes)
                if step.documents is not None:
                    values[attr.KOTAEMON_DOCUMENT_COUNT] = step.documents
                if scope.is_root and scope.input_tokens:
                    values[attr.KOTAEMON_USAGE_INPUT_TOKENS] = scope.input_tokens
                if scope.is_root and scope.output_tokens:
                    values[attr.KOTAEMON_USAGE_OUTPUT_TOKENS] = scope.output_tokens
                if step.result_content and self.content.on_span:
                    values.update(self._content_attributes(step.result_content))
                span.set_attributes(values)
                if error is not None:
                    self._record_error(span, error, error_name)
                elif step.failure is not None:
                    span.set_attribute(attr.ERROR_TYPE, "failed")
                    span.set_attribute(attr.KOTAEMON_STEP_FAILURE, self.content.clean(step.failure))
                    span.set_status(Status(StatusCode.ERROR, self.content.clean(step.failure)))
        except Exception:
            logger.debug("failed to record a step", exc_info=True)
        finally:
            span.end()

    def _record_error(self, span: Span, error: BaseException, kind: str | None) -> None:
        message = self.content.clean(str(error))
        kind = kind or error_type(error)
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


class Scope:
    """The live telemetry of one call or step: its span (None when it is a repeat of an outer one) and timing."""

    __slots__ = ("context", "finished", "span", "started", "telemetry")

    def __init__(self, telemetry: Telemetry, span: Span | None, context: otel_context.Context) -> None:
        self.telemetry = telemetry
        self.span = span
        self.context = context
        self.started = time.perf_counter()
        self.finished = False

    def activate(self) -> object:
        """Make this scope's span current (for work done on its behalf); returns a token for `deactivate`."""
        return otel_context.attach(self.context)

    @staticmethod
    def deactivate(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call `function` with this scope current; an exception ends the scope as failed and propagates."""
        token = self.activate()
        try:
            return function(*args, **kwargs)
        except BaseException as error:
            self.finish(error)
            raise
        finally:
            self.deactivate(token)

    async def run_async(self, awaitable: Awaitable[Any]) -> Any:
        """`run` for a coroutine: await it with this scope current."""
        token = self.activate()
        try:
            return await awaitable
        except BaseException as error:
            self.finish(error)
            raise
        finally:
            self.deactivate(token)

    def finish(self, error: BaseException | None = None, abandoned: bool = False) -> None:
        """End once; later calls do nothing. Never raises."""
        if self.finished:
            return
        self.finished = True
        try:
            self._finish(error, abandoned)
        except Exception:
            logger.debug("failed to finish telemetry", exc_info=True)

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        raise NotImplementedError


class ModelCallScope(Scope):
    """The live telemetry of one model call."""

    __slots__ = ("call", "outer")

    def __init__(
        self,
        telemetry: Telemetry,
        call: ModelCall,
        span: Span | None,
        context: otel_context.Context,
        outer: ModelCallScope | None,
    ) -> None:
        super().__init__(telemetry, span, context)
        self.call = call
        self.outer = outer

    def same_request(self, inner: ModelCall) -> bool:
        """Whether `inner` is this call seen from a lower layer (same kind of operation)."""
        return _FAMILY.get(self.call.operation) == _FAMILY.get(inner.operation)

    def on_chunk(self) -> None:
        """Count a streamed chunk handed to the caller; the first one fixes the time to first chunk."""
        call = self.call
        if call.chunk_count == 0:
            call.time_to_first_chunk = time.perf_counter() - self.started
        call.chunk_count += 1

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        if abandoned and error is None:
            self.call.abandoned = True
        self.telemetry._finish_model_call(self, error)


class StepScope(Scope):
    """The live telemetry of one step; a root step also sums the tokens of the LLM calls below it."""

    __slots__ = ("input_tokens", "is_root", "lock", "output_tokens", "step")

    def __init__(self, telemetry: Telemetry, step: StepCall, span: Span | None, context: otel_context.Context) -> None:
        super().__init__(telemetry, span, context)
        self.step = step
        self.is_root = False
        self.input_tokens = 0
        self.output_tokens = 0
        self.lock = threading.Lock()

    def add_tokens(self, input_tokens: int | None, output_tokens: int | None) -> None:
        """Add a model call's tokens (model calls may finish on other threads)."""
        with self.lock:
            self.input_tokens += input_tokens or 0
            self.output_tokens += output_tokens or 0

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        if abandoned and error is None and self.span is not None and self.span.is_recording():
            self.span.set_attribute(attr.KOTAEMON_STREAM_ABANDONED, True)
        self.telemetry._finish_step(self, error)


def current_model_call() -> ModelCall | None:
    """The model call whose span is current, if any (used to count client retries)."""
    scope = otel_context.get_value(_ACTIVE_CALL_KEY)
    return scope.call if isinstance(scope, ModelCallScope) else None


def current_step() -> StepCall | None:
    """The step whose span is current, if any (a repeat of an outer step reports the outer one)."""
    scope = otel_context.get_value(_ACTIVE_STEP_KEY)
    return scope.step if isinstance(scope, StepScope) else None


def _step_start_attributes(step: StepCall) -> dict[str, Any]:
    values: dict[str, Any] = {attr.KOTAEMON_SPAN_KIND: step.kind}
    if step.operation:
        values[attr.GEN_AI_OPERATION_NAME] = step.operation
    if step.component:
        values[attr.KOTAEMON_COMPONENT] = step.component
    if step.tool_name:
        values[attr.GEN_AI_TOOL_NAME] = step.tool_name
    values.update(step.attributes)
    return values


def _start_attributes(call: ModelCall) -> dict[str, Any]:
    values = identify(call, {attr.GEN_AI_SYSTEM: call.provider} if attr.EMIT_GEN_AI_SYSTEM else {})
    if call.component:
        values[attr.KOTAEMON_COMPONENT] = call.component
        values[attr.KOTAEMON_SPAN_KIND] = attr.KIND_EMBEDDING if call.operation == "embeddings" else attr.KIND_LLM
    values.update(call.attributes)
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


def _response_attributes(call: ModelCall, failed: bool) -> dict[str, Any]:
    values = _fields(call, _RESPONSE_FIELDS, {})
    if call.finish_reasons:
        values[attr.GEN_AI_RESPONSE_FINISH_REASONS] = call.finish_reasons
    add_server(call, values)  # an inner layer may have learned it after the span started
    if call.retries:
        values[attr.HTTP_REQUEST_RESEND_COUNT] = call.retries
    if call.abandoned:
        values[attr.KOTAEMON_STREAM_ABANDONED] = True
    if call.streaming and (call.abandoned or failed):  # how far it got; a stream read to its end has its usage
        values[attr.KOTAEMON_STREAM_CHUNK_COUNT] = call.chunk_count
    return values
