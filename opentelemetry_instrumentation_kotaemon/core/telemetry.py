"""The telemetry core: spans, metrics, events, content policy and the count-once rule.

Integrations describe what happens in typed records (`core.spans`: `ModelCall` for model requests, one `Step`
subclass per other kind of span) and run them through `Telemetry`, which owns the lifecycle of every span: starting
it (or merging a repeat into the outer one), the content policy, baggage, errors and the count-once rule. What each
kind of span says lives with its record.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry._logs import get_logger
from opentelemetry.metrics import get_meter
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
)

from .. import attributes as attr
from ..settings import Settings
from ..version import __version__
from .content import ContentPolicy
from .evaluations import Answer, AnswerBook, Evaluation
from .events import emit_event
from .instruments import Instruments
from .spans import AppEvent, ModelCall, Step
from .spans.step import error_type as error_type

logger = logging.getLogger(__name__)

INSTRUMENTATION_NAME = "opentelemetry_instrumentation_kotaemon"
"""The instrumentation scope of every span, metric and event this package emits."""
_ACTIVE_CALL_KEY = otel_context.create_key("kotaemon-active-model-call")
_ACTIVE_STEP_KEY = otel_context.create_key("kotaemon-active-step")
_ROOT_STEP_KEY = otel_context.create_key("kotaemon-root-step")
_IDENTITY_KEY = otel_context.create_key("kotaemon-identity")
_APP_EVENT_KEY = otel_context.create_key("kotaemon-app-event")
_REQUEST_KEY = otel_context.create_key("kotaemon-request")
_ANSWER_KEY = otel_context.create_key("kotaemon-answer")
_SUPPRESS_KEY = otel_context._SUPPRESS_INSTRUMENTATION_KEY  # type: ignore[attr-defined]
_LEGACY_SUPPRESS_KEY = "suppress_instrumentation"


def pseudonymise_user_id(value: str, key: bytes | None) -> str:
    """`hmac-sha256:` and the first 16 hex digits of the id's HMAC-SHA256 under `key`; without a key, `sha256:` and
    those of its plain SHA-256, which anyone can recompute for a guessed id (an e-mail address, say). Both are
    pseudonyms, not anonymity: equal ids give equal values, and whoever holds the key can test a guess."""
    if key is not None:
        return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def _suppressed(current: otel_context.Context) -> bool:
    return bool(current.get(_SUPPRESS_KEY) or current.get(_LEGACY_SUPPRESS_KEY))


def _in_turn(context: otel_context.Context) -> bool:
    """Whether a span of ours is above in this context (a step or an app event): a span started here is not the first
    of its turn."""
    return isinstance(context.get(_ROOT_STEP_KEY), LiveStep) or isinstance(context.get(_APP_EVENT_KEY), LiveAppEvent)


def _remote_parent(current: otel_context.Context, carrier: Mapping[str, Any]) -> tuple[otel_context.Context, Any]:
    """The parent of a received request's span: the context its propagation fields carry when they name a span
    (the span current here then linked), else the current one."""
    remote = propagate.extract(carrier)
    if not trace.get_current_span(remote).get_span_context().is_valid:
        return current, None
    ambient = trace.get_current_span(current).get_span_context()
    return remote, [Link(ambient)] if ambient.is_valid else None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who asked, in which conversation and session: set by a step or an app event, carried by every span below it
    (or, with `OTEL_KOTAEMON_IDS_ON_EVERY_SPAN=false`, by the spans that learn it only)."""

    conversation_id: str | None = None
    user_id: str | None = None
    """As exported: pseudonymised unless `OTEL_KOTAEMON_HASH_USER_ID=false` (see `pseudonymise_user_id`)."""
    session_id: str | None = None

    def merged(self, newer: Identity) -> Identity:
        return Identity(
            newer.conversation_id or self.conversation_id,
            newer.user_id or self.user_id,
            newer.session_id or self.session_id,
        )

    def attributes(self) -> dict[str, str]:
        values = {}
        if self.conversation_id:
            values[attr.GEN_AI_CONVERSATION_ID] = self.conversation_id
        if self.user_id:
            values[attr.USER_ID] = self.user_id
        if self.session_id:
            values[attr.SESSION_ID] = self.session_id
        return values


@dataclass(frozen=True, slots=True)
class EventTrail:
    """What a finished app event leaves for the events the UI chains after it: what to link to, and its identity.

    The link target is the event that named the conversation (the question), passed down the chain of follow-ups;
    in a chain with no conversation, the event just before.
    """

    span_context: SpanContext
    identity: Identity | None
    question: bool = False
    """Whether `span_context` is a question's (passed down the chain) rather than the event just before."""


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
        self._ids_everywhere = settings.ids_on_every_span
        self.content = ContentPolicy(settings)
        self.tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider)
        self.instruments = Instruments(
            get_meter(INSTRUMENTATION_NAME, __version__, meter_provider), settings.gen_ai_conventions
        )
        self._event_logger = (
            get_logger(INSTRUMENTATION_NAME, __version__, logger_provider) if self.content.mode.as_event else None
        )
        self._logger_provider = logger_provider
        self._evaluation_logger: Any = None
        self.answers = AnswerBook()
        """The answers given, for the evaluations of them that come later."""

    @property
    def captures_content(self) -> bool:
        """Whether integrations should build prompt, completion and document content at all."""
        return self.content.captured

    # --- model calls

    def start_model_call(self, call: ModelCall) -> LiveModelCall | None:
        """Open the telemetry of a model call; None when instrumentation is suppressed in this context.

        Inside an unfinished call of the same family (an outer layer of the same request), the returned scope has
        no span: when it finishes, what it learned is merged into the outer call, which reports it once.
        """
        current = otel_context.get_current()
        if _suppressed(current):
            return None
        outer = current.get(_ACTIVE_CALL_KEY)
        if isinstance(outer, LiveModelCall) and not outer.finished and outer.call.same_request(call):
            merged = LiveModelCall(self, call, None, current, outer)
            merged.context = otel_context.set_value(_ACTIVE_CALL_KEY, merged, current)
            return merged
        span = self.tracer.start_span(call.span_name(), kind=SpanKind.CLIENT, attributes=call.start_attributes())
        ctx = trace.set_span_in_context(span, current)
        scope = LiveModelCall(self, call, span, ctx, None)
        scope.context = otel_context.set_value(_ACTIVE_CALL_KEY, scope, ctx)
        if span.is_recording():
            values = call.request_attributes()
            if self._ids_everywhere or not _in_turn(current):
                values.update(self.context_attributes(current))
            if self.content.on_span:
                values.update(self.content.attributes(call.start_content()))
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
                values[key] = self.user_id(text) if key == attr.USER_ID else self.content.clean(text)
        return values

    def user_id(self, value: str) -> str:
        """A user id as exported: pseudonymised unless `OTEL_KOTAEMON_HASH_USER_ID=false`, then redacted like
        content."""
        if self.settings.hash_user_id:
            return pseudonymise_user_id(value, self.settings.user_id_hash_key)
        return self.content.clean(value)

    def context_attributes(self, context: otel_context.Context) -> dict[str, Any]:
        """Attributes every span inherits from its context: baggage entries, then the conversation, user and session."""
        values = self._baggage_attributes(context)
        identity = context.get(_IDENTITY_KEY)
        if isinstance(identity, Identity):
            values.update(identity.attributes())
        return values

    def _identity(self, conversation_id: str | None, user_id: str | None) -> Identity | None:
        if not conversation_id and not user_id:
            return None
        return Identity(
            self.content.clean(conversation_id) if conversation_id else None,
            self.user_id(user_id) if user_id else None,
        )

    def end_model_call(self, scope: LiveModelCall, error: BaseException | None) -> None:
        """Record a finished model call on its span, metrics and event; a repeat is merged into the outer call."""
        call = scope.call
        span = scope.span
        if span is None:
            if scope.outer is not None:
                scope.outer.call.merge_response(call)
            return
        duration = time.perf_counter() - scope.started
        try:
            call.settle(failed=error is not None)
            error_name = error_type(error) if error is not None else None
            call.record_metrics(self.instruments, duration, error_name)
            root = scope.context.get(_ROOT_STEP_KEY)
            if isinstance(root, LiveStep):
                root.add_tokens(call.operation, call.input_tokens, call.output_tokens)
            answer = scope.context.get(_ANSWER_KEY)
            if isinstance(answer, Answer) and call.operation == attr.OPERATION_CHAT:
                answer.note_model_call(call.request_model, call.response_id, call.streaming)
            if span.is_recording():
                values = call.end_attributes(failed=error is not None)
                if self.content.on_span:
                    values.update(self.content.attributes(call.end_content()))
                span.set_attributes(values)
                if error is not None:
                    self.record_error(span, error, error_name)
            if self._event_logger is not None:
                event = call.event_attributes()
                event.update(self.content.attributes(call.start_content()))
                event.update(self.content.attributes(call.end_content()))
                emit_event(self._event_logger, attr.EVENT_INFERENCE_DETAILS, event, scope.context)
        except Exception:  # never let telemetry break the call
            logger.debug("failed to record a model call", exc_info=True)
        finally:
            span.end()

    # --- steps

    def start_step(
        self, step: Step, carrier: Mapping[str, Any] | None = None, adopted: Span | None = None
    ) -> LiveStep | None:
        """Open the telemetry of a step; None when suppressed.

        A step of the same kind and owner as the innermost active step is that step seen again through another
        method (`__call__` -> `run` -> `invoke`): the returned scope has no span and records nothing. A step that
        joins the step whose span is current (`Step.join`) has no span either: that step reports it.

        `carrier`: the propagation fields of a request this process received (its `step`): the context they carry
        is the span's parent, and the span current here is linked. `adopted`: the current span, which a library
        started for the step and will end itself (mcp 2's server spans): the step adds its attributes to it and
        records its metrics, and leaves the span's status and end to its owner.
        """
        current = otel_context.get_current()
        if _suppressed(current):
            return None
        active = current.get(_ACTIVE_STEP_KEY)
        if isinstance(active, LiveStep) and not active.finished:
            if step.owner is not None and active.step.owner is step.owner and type(active.step) is type(step):
                return LiveStep(self, step, None, current)
            if active.span is not None and trace.get_current_span(current) is active.span and step.join(active.step):
                joined = LiveStep(self, step, None, current)
                joined.joined = active
                joined.context = otel_context.set_value(_REQUEST_KEY, joined, current)
                return joined
        if adopted is not None:
            parent = current
            span = adopted
            ctx = current
        else:
            parent, links = (current, None) if carrier is None else _remote_parent(current, carrier)
            span = self.tracer.start_span(
                step.span_name(), context=parent, kind=step.span_kind, attributes=step.start_attributes(), links=links
            )
            ctx = trace.set_span_in_context(span, parent)
        if step.NESTS:
            if isinstance(active, LiveStep):
                step.in_invocation = active.step.in_invocation or active.step.is_invocation
            ctx = otel_context.set_value(_ACTIVE_STEP_KEY, None, ctx)
            scope = LiveStep(self, step, span, ctx)
            ctx = otel_context.set_value(_ACTIVE_STEP_KEY, scope, ctx)
            if not isinstance(parent.get(_ROOT_STEP_KEY), LiveStep):
                ctx = otel_context.set_value(_ROOT_STEP_KEY, scope, ctx)
                scope.is_root = True
        else:
            scope = LiveStep(self, step, span, ctx)
            ctx = otel_context.set_value(_REQUEST_KEY, scope, ctx)
        identity = self._identity(step.conversation_id, step.user_id)
        if identity is not None:
            inherited = parent.get(_IDENTITY_KEY)
            if isinstance(inherited, Identity):
                identity = inherited.merged(identity)
            ctx = otel_context.set_value(_IDENTITY_KEY, identity, ctx)
            event = parent.get(_APP_EVENT_KEY)
            if isinstance(event, LiveAppEvent):
                event.identify(identity)
        if step.answer_index is not None and step.conversation_id:
            answer = Answer(span.get_span_context())
            self.answers.remember(step.conversation_id, step.answer_index, answer)
            ctx = otel_context.set_value(_ANSWER_KEY, answer, ctx)
        scope.context = ctx
        scope.adopted = adopted is not None
        if span.is_recording():
            carries = step.carries_context and (self._ids_everywhere or identity is not None or not _in_turn(parent))
            values = self.context_attributes(ctx) if carries else {}
            if adopted is not None:
                values.update(step.start_attributes())
            if self.content.on_span:
                values.update(self.content.attributes(step.start_content()))
            if values:
                span.set_attributes(values)
        return scope

    def end_step(self, scope: LiveStep, error: BaseException | None) -> None:
        """Record a finished step on its span and metrics; a repeat of an outer step records nothing, a step that
        joined another records its metrics and tells the other how it ended."""
        span = scope.span
        step = scope.step
        if span is None:
            if scope.joined is not None:
                try:
                    error_name = step.error_name(error)
                    step.record_metrics(self.instruments, time.perf_counter() - scope.started, error_name)
                    step.report_to(scope.joined.step, error_name)
                except Exception:
                    logger.debug("failed to record a step", exc_info=True)
            return
        try:
            error_name = step.error_name(error)
            step.record_metrics(self.instruments, time.perf_counter() - scope.started, error_name)
            source = step.answer_source()
            if source is not None:
                answer = scope.context.get(_ANSWER_KEY)
                if isinstance(answer, Answer):
                    answer.data_sources.add(source)
            if span.is_recording():
                values = step.end_attributes()
                if scope.is_root and scope.input_tokens:
                    values[attr.KOTAEMON_USAGE_INPUT_TOKENS] = scope.input_tokens
                    for operation, tokens in scope.input_tokens_by_operation.items():
                        key = attr.KOTAEMON_USAGE_INPUT_TOKENS_BY_OPERATION.format(operation=operation)
                        values[key] = tokens
                if scope.is_root and scope.output_tokens:
                    values[attr.KOTAEMON_USAGE_OUTPUT_TOKENS] = scope.output_tokens
                if self.content.on_span:
                    values.update(self.content.attributes(step.end_content()))
                span.set_attributes(values)
                if scope.adopted:  # its owner marks how it ended
                    return
                if error is not None and not step.reported(error):
                    self.record_error(span, error, error_name)
                elif error_name is not None:
                    failure = self.content.clean(step.failure) if step.failure is not None else None
                    span.set_attribute(attr.ERROR_TYPE, error_name)
                    if failure is not None and step.FAILURE_ATTRIBUTE is not None:
                        span.set_attribute(step.FAILURE_ATTRIBUTE, failure)
                    span.set_status(Status(StatusCode.ERROR, failure))
        except Exception:
            logger.debug("failed to record a step", exc_info=True)
        finally:
            if not scope.adopted:
                span.end()

    # --- app events

    def start_app_event(
        self, event: AppEvent, parent: otel_context.Context, follows: EventTrail | None = None
    ) -> LiveAppEvent | None:
        """Open the span of one UI event, a child of `parent` (the request that asked for it).

        An event the UI chained after another (`follows`) links to it and carries its conversation and user.
        """
        if _suppressed(parent):
            return None
        links = [Link(follows.span_context)] if follows is not None and follows.span_context.is_valid else None
        span = self.tracer.start_span(
            event.span_name(), context=parent, kind=SpanKind.INTERNAL, attributes=event.start_attributes(), links=links
        )
        ctx = trace.set_span_in_context(span, parent)
        identity = follows.identity if follows is not None else None
        if event.session_id:
            session = Identity(session_id=event.session_id)
            identity = session if identity is None else identity.merged(session)
        if identity is not None:
            ctx = otel_context.set_value(_IDENTITY_KEY, identity, ctx)
        scope = LiveAppEvent(self, event, span, ctx, follows)
        scope.identity = identity
        scope.context = otel_context.set_value(_APP_EVENT_KEY, scope, ctx)
        if span.is_recording():
            span.set_attributes(self.context_attributes(ctx))
        return scope

    def start_app_batch(self, batch: AppEvent, events: list[LiveAppEvent]) -> LiveAppEvent | None:
        """Open the span of one call of a batched event function, which processes `events` (each with its span).

        It is the root of a trace of its own, where the work of the call goes: the call serves several users, so
        it belongs to none of their traces. It links to each event's span, and each event's span links back.
        """
        spans = [event.span for event in events if event.span is not None]
        links = [Link(span.get_span_context()) for span in spans]
        span = self.tracer.start_span(
            batch.span_name(),
            context=otel_context.Context(),
            kind=SpanKind.INTERNAL,
            attributes=batch.start_attributes(),
            links=links,
        )
        scope = LiveAppEvent(self, batch, span, trace.set_span_in_context(span, otel_context.Context()), None)
        scope.context = otel_context.set_value(_APP_EVENT_KEY, scope, scope.context)
        batch_context = span.get_span_context()
        if batch_context.is_valid:
            for event_span in spans:
                if event_span.is_recording():
                    event_span.add_link(batch_context)
        return scope

    def end_app_event(self, scope: LiveAppEvent, error: BaseException | None) -> None:
        """Record how a UI event ended on its span."""
        span = scope.span
        if span is None:
            return
        try:
            if span.is_recording():
                if scope.status:
                    span.set_attribute(attr.KOTAEMON_APP_EVENT_STATUS, scope.status)
                error = error or (scope.failure if scope.status == "failed" else None)
                if error is not None:
                    self.record_error(span, error, None)
                elif scope.status == "failed":
                    span.set_attribute(attr.ERROR_TYPE, "failed")
                    span.set_status(Status(StatusCode.ERROR, "failed"))
        except Exception:
            logger.debug("failed to record an app event", exc_info=True)
        finally:
            span.end()

    # --- evaluations

    def record_evaluation(self, evaluation: Evaluation) -> None:
        """Emit a `gen_ai.evaluation.result` event parented to the judged answer's span, and count it by the
        answer's model and data sources; an answer this process does not know is said to be unknown."""
        answer = self.answers.find(evaluation.conversation_id, evaluation.answer_index)
        values = evaluation.attributes()
        values[attr.GEN_AI_CONVERSATION_ID] = self.content.clean(evaluation.conversation_id)
        if evaluation.issues:
            values[attr.KOTAEMON_EVALUATION_ISSUES] = [self.content.clean(issue) for issue in evaluation.issues]
        if evaluation.explanation and self.content.captured:
            values[attr.GEN_AI_EVALUATION_EXPLANATION] = self.content.clean(evaluation.explanation)
        labels = evaluation.metric_attributes()
        if answer is None:
            values[attr.KOTAEMON_EVALUATION_ANSWER_UNKNOWN] = True
            judged = INVALID_SPAN_CONTEXT  # no parent (an empty context would let the SDK take the current one)
        else:
            if answer.response_id:
                values[attr.GEN_AI_RESPONSE_ID] = answer.response_id
            labels.update(answer.metric_attributes())
            judged = answer.span_context
        parent = trace.set_span_in_context(NonRecordingSpan(judged), otel_context.Context())
        self.instruments.evaluations.add(1, labels)
        if self._evaluation_logger is None:
            self._evaluation_logger = get_logger(INSTRUMENTATION_NAME, __version__, self._logger_provider)
        emit_event(self._evaluation_logger, attr.EVENT_EVALUATION_RESULT, values, parent)

    def record_error(self, span: Span, error: BaseException, kind: str | None) -> None:
        """Mark `span` as failed by `error`: `error.type`, status and the exception event, their text cleaned."""
        kind = kind or error_type(error)
        span.set_attribute(attr.ERROR_TYPE, kind)
        status_code = getattr(error, "status_code", None)
        if isinstance(status_code, int):
            span.set_attribute(attr.HTTP_RESPONSE_STATUS_CODE, status_code)
        message, stack = self.content.error_text(error)
        span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))
        span.add_event(
            attr.EVENT_EXCEPTION,
            {attr.EXCEPTION_TYPE: kind, attr.EXCEPTION_MESSAGE: message, attr.EXCEPTION_STACKTRACE: stack},
        )


class LiveSpan:
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


class LiveModelCall(LiveSpan):
    """The live telemetry of one model call."""

    __slots__ = ("call", "outer")

    def __init__(
        self,
        telemetry: Telemetry,
        call: ModelCall,
        span: Span | None,
        context: otel_context.Context,
        outer: LiveModelCall | None,
    ) -> None:
        super().__init__(telemetry, span, context)
        self.call = call
        self.outer = outer

    def on_chunk(self) -> None:
        """Count a streamed chunk handed to the caller; the first one fixes the time to first chunk."""
        call = self.call
        if call.chunk_count == 0:
            call.time_to_first_chunk = time.perf_counter() - self.started
        call.chunk_count += 1

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        if abandoned and error is None:
            self.call.abandoned = True
        self.telemetry.end_model_call(self, error)


class LiveStep(LiveSpan):
    """The live telemetry of one step; a root step also sums the tokens of the model calls below it."""

    __slots__ = (
        "adopted",
        "input_tokens",
        "input_tokens_by_operation",
        "is_root",
        "joined",
        "lock",
        "output_tokens",
        "step",
    )

    def __init__(self, telemetry: Telemetry, step: Step, span: Span | None, context: otel_context.Context) -> None:
        super().__init__(telemetry, span, context)
        self.step = step
        self.is_root = False
        self.joined: LiveStep | None = None
        """The step this one joined (`Step.join`), which reports it."""
        self.adopted = False
        """Its span was started by someone else, who ends it."""
        self.input_tokens = 0
        self.output_tokens = 0
        self.input_tokens_by_operation: dict[str, int] = {}
        self.lock = threading.Lock()

    def add_tokens(self, operation: str, input_tokens: int | None, output_tokens: int | None) -> None:
        """Add a model call's tokens (model calls may finish on other threads)."""
        with self.lock:
            self.input_tokens += input_tokens or 0
            self.output_tokens += output_tokens or 0
            if input_tokens:
                by_operation = self.input_tokens_by_operation
                by_operation[operation] = by_operation.get(operation, 0) + input_tokens

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        if abandoned and error is None:
            self.step.abandoned = True
        self.telemetry.end_step(self, error)


class LiveAppEvent(LiveSpan):
    """The live telemetry of one UI event; the steps it runs may tell it the conversation and user."""

    __slots__ = ("asked", "event", "failure", "follows", "identity", "status")

    def __init__(
        self,
        telemetry: Telemetry,
        event: AppEvent,
        span: Span | None,
        context: otel_context.Context,
        follows: EventTrail | None,
    ) -> None:
        super().__init__(telemetry, span, context)
        self.event = event
        self.follows = follows
        self.identity = follows.identity if follows is not None else None
        self.asked = False
        """Whether a step of this event named the conversation (the event is a question)."""
        self.status: str | None = None
        """How the framework says the event ended (success, failed, cancelled), set before `finish()`."""
        self.failure: BaseException | None = None
        """The exception the event's function raised, which the framework caught and reported as `failed`."""

    def identify(self, identity: Identity) -> None:
        """Take the conversation and user a step below learned (it may run on another thread)."""
        self.identity = identity if self.identity is None else self.identity.merged(identity)
        self.asked = self.asked or bool(identity.conversation_id)
        span = self.span
        if span is not None and not self.finished and span.is_recording():
            span.set_attributes(self.identity.attributes())

    def trail(self) -> EventTrail | None:
        """What an event chained after this one needs (None when this one has no span)."""
        if self.span is None:
            return None
        if self.asked:
            return EventTrail(self.span.get_span_context(), self.identity, question=True)
        if self.follows is not None and self.follows.question:
            return EventTrail(self.follows.span_context, self.identity, question=True)
        return EventTrail(self.span.get_span_context(), self.identity)

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        self.telemetry.end_app_event(self, error)


def current_model_call() -> ModelCall | None:
    """The model call whose span is current, if any (used to count client retries)."""
    scope = otel_context.get_value(_ACTIVE_CALL_KEY)
    return scope.call if isinstance(scope, LiveModelCall) else None


def current_app_event() -> LiveAppEvent | None:
    """The UI event being processed, if any."""
    scope = otel_context.get_value(_APP_EVENT_KEY)
    return scope if isinstance(scope, LiveAppEvent) else None


def current_step() -> Step | None:
    """The step whose span is current, if any (a repeat of an outer step reports the outer one)."""
    scope = otel_context.get_value(_ACTIVE_STEP_KEY)
    return scope.step if isinstance(scope, LiveStep) else None


def current_request() -> LiveStep | None:
    """The request to or from another process (an MCP request) whose telemetry is current, if unfinished."""
    scope = otel_context.get_value(_REQUEST_KEY)
    return scope if isinstance(scope, LiveStep) and not scope.finished else None
