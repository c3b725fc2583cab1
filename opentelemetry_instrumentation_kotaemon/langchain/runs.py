"""Per-run bookkeeping for LangChain: spans opened from callbacks, parented by run ids, freed when runs end.

Callbacks never leave a context attached: LangChain may run them in copied contexts or other tasks, where a
later detach fails. Each span is started under its parent run's context, taken from the run table. The context is
attached only around LangChain's real execution, by wrappers that attach and detach in one frame (see
`ExecutionFrame`), so client calls made by a model, a tool or a retriever (the OpenAI client, HTTP) land under the
right span, and an OpenAI call merges into the LangChain model call that made it.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any
from uuid import UUID

from opentelemetry import context as otel_context

from .. import attributes as attr
from ..core.spans import ModelCall, Step, WorkflowStep
from ..core.streams import reader_went_away
from ..core.telemetry import LiveModelCall, LiveSpan, LiveStep, Telemetry, error_type
from . import extract

logger = logging.getLogger(__name__)

ResultReader = Callable[[Any, bool], None]
"""Reads a run's result into its record: (result, capture content)."""

_FALLBACKS = "fallbacks"
_RETRY = "retry"
_MODEL = "model"
_DECISIONS_KEPT = 1024
"""How many (runnable class, run name) pairs keep their cached decision (names are set by code, not data)."""


class Run:
    """One live LangChain run: its scope (None when it is not a span), the context its children start in, and how its
    result is read into its record."""

    __slots__ = ("abandoned", "attempts", "context", "first_error", "kind", "parent", "prompt", "read_result", "scope")

    def __init__(
        self,
        scope: LiveSpan | None,
        context: otel_context.Context,
        kind: str | None,
        parent: Run | None,
        read_result: ResultReader | None = None,
    ) -> None:
        self.scope = scope
        self.read_result = read_result
        self.context = context
        self.kind = kind
        self.parent = parent
        self.attempts = 0
        self.abandoned = False
        """Set when the caller closed the run's stream early (LangChain may still finish the run normally)."""
        self.first_error: str | None = None
        self.prompt: tuple[str | None, str | None] | None = None


class ExecutionFrame:
    """Set around a LangChain method that starts a run; the run started first inside it claims the frame.

    The claiming callback attaches the run's context (only on the frame's own thread) and the method's wrapper
    detaches it when the method returns, in the same frame and context, so the pair always matches.
    """

    __slots__ = ("attached", "run", "runnable", "streaming", "thread", "token")

    def __init__(self, runnable: Any, streaming: bool = False) -> None:
        self.runnable = runnable
        self.streaming = streaming
        self.thread = threading.get_ident()
        self.run: Run | None = None
        self.token: object | None = None
        self.attached: otel_context.Context | None = None

    def claim(self, run: Run) -> None:
        self.run = run
        context = run.context
        # A run that makes no span usually runs in the context already current: nothing to attach then.
        if self.thread == threading.get_ident() and otel_context.get_current() is not context:
            self.token = otel_context.attach(context)
            self.attached = context

    def release(self) -> None:
        token, self.token = self.token, None
        if token is not None and otel_context.get_current() is self.attached:
            detach_quietly(token)


_FRAME: contextvars.ContextVar[ExecutionFrame | None] = contextvars.ContextVar("kotaemon_langchain_frame", default=None)


def current_frame() -> ExecutionFrame | None:
    """The innermost frame set in this context, if any."""
    return _FRAME.get()


def detach_quietly(token: object) -> None:
    """Detach a token we attached in this same frame (never logs: the pair is known to match)."""
    try:
        otel_context._RUNTIME_CONTEXT.detach(token)  # type: ignore[attr-defined,arg-type]
    except Exception:
        logger.debug("context token did not match", exc_info=True)


class RunTracker:
    """Turns LangChain callbacks into telemetry; one per instrumentation."""

    def __init__(self, telemetry: Telemetry, all_runnables: bool) -> None:
        self.telemetry = telemetry
        self.all_runnables = all_runnables
        self._runs: dict[UUID, Run] = {}
        self._decisions: dict[tuple[type[Any], str], extract.ChainDecision] = {}

    def __len__(self) -> int:
        """Runs currently tracked (every run is removed when it ends or fails)."""
        return len(self._runs)

    def get(self, run_id: Any) -> Run | None:
        return self._runs.get(run_id) if run_id is not None else None

    # --- starting runs

    def _parent(
        self, parent_run_id: UUID | None, frame: ExecutionFrame | None
    ) -> tuple[Run | None, otel_context.Context]:
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        wrapper = frame.run if frame is not None else None
        if (
            wrapper is not None
            and wrapper.kind in (_FALLBACKS, _RETRY)
            and parent is not None
            and parent is wrapper.parent
        ):
            # `with_fallbacks` inside a chain hands each attempt the chain's config, so LangChain reports the
            # attempt as the chain's child; it runs inside the wrapper's frame, so it belongs under the wrapper.
            parent = wrapper
        if parent is None:
            return None, otel_context.get_current()
        if parent.kind in (_FALLBACKS, _RETRY):
            parent.attempts += 1
        return parent, parent.context

    def _open(
        self,
        run_id: UUID,
        scope: LiveSpan | None,
        context: otel_context.Context,
        kind: str | None,
        parent: Run | None,
        frame: ExecutionFrame | None,
        read_result: ResultReader | None = None,
    ) -> Run:
        run = Run(scope, scope.context if scope is not None else context, kind, parent, read_result)
        self._runs[run_id] = run
        if frame is not None and frame.run is None:
            frame.claim(run)
        return run

    @staticmethod
    def _under(context: otel_context.Context) -> object | None:
        return None if otel_context.get_current() is context else otel_context.attach(context)

    def start_step(self, step: Step, context: otel_context.Context) -> LiveStep | None:
        token = self._under(context)
        try:
            return self.telemetry.start_step(step)
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    def start_model(self, call: ModelCall, context: otel_context.Context) -> LiveModelCall | None:
        token = self._under(context)
        try:
            return self.telemetry.start_model_call(call)
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    def _decide(self, runnable: Any, serialized: Any, name: str) -> extract.ChainDecision:
        """What a chain run is (prompt, parser, wrapper or agent kind), cached per runnable class and run name.

        Without the runnable (a chain that starts its run itself, e.g. a sequence) the name alone decides.
        """
        if runnable is None and serialized is not None:  # decided by the serialized class path (langchain-core 0.2)
            return extract.chain_decision(None, serialized, name)
        key = (type(runnable), name)
        decision = self._decisions.get(key)
        if decision is None:
            decision = extract.chain_decision(runnable, serialized, name)
            if len(self._decisions) < _DECISIONS_KEPT:
                self._decisions[key] = decision
        return decision

    def chain_start(self, run_id: UUID, parent_run_id: UUID | None, serialized: Any, kwargs: Mapping[str, Any]) -> None:
        frame = _FRAME.get()
        runnable = frame.runnable if frame is not None and frame.run is None else None
        name = extract.run_name(serialized, kwargs, type(runnable).__name__ if runnable is not None else "chain")
        prompt, parser, kind = self._decide(runnable, serialized, name)
        parent, context = self._parent(parent_run_id, frame)
        if prompt:
            if parent is not None:
                parent.prompt = extract.prompt_identity(name, kwargs.get("metadata"))
            if not self.all_runnables:
                self._open(run_id, None, context, None, parent, frame)
                return
        root = parent_run_id is None
        traced = kind is not None or self.all_runnables or (root and not parser)
        scope = None
        if traced:
            step = extract.chain_step(name, kind, root)
            if root:
                metadata = kwargs.get("metadata")
                step.conversation_id = extract.conversation_id(metadata)
                step.user_id = extract.user_id(metadata)
            scope = self.start_step(step, context)
        self._open(run_id, scope, context, kind, parent, frame)

    def model_start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        serialized: Any,
        inputs: Any,
        kwargs: Mapping[str, Any],
        chat: bool,
    ) -> None:
        frame = _FRAME.get()
        streaming = frame is not None and frame.run is None and frame.streaming
        operation = attr.OPERATION_CHAT if chat else attr.OPERATION_TEXT_COMPLETION
        call = extract.model_call(operation, serialized, kwargs, streaming)
        parent, context = self._parent(parent_run_id, frame)
        if parent is not None and parent.prompt is not None:
            call.prompt_name, call.prompt_version = parent.prompt
        if self.telemetry.captures_content:
            call.input_messages = extract.input_messages(inputs) if chat else extract.prompt_messages(inputs)
        scope = self.start_model(call, context)
        read_result = functools.partial(extract.read_llm_result, call)
        self._open(run_id, scope, context, _MODEL, parent, frame, read_result)

    def tool_start(
        self, run_id: UUID, parent_run_id: UUID | None, serialized: Any, input_str: Any, kwargs: Mapping[str, Any]
    ) -> None:
        frame = _FRAME.get()
        parent, context = self._parent(parent_run_id, frame)
        step = extract.tool_step(serialized, input_str, kwargs, self.telemetry.captures_content)
        read_result = functools.partial(extract.tool_result, step)
        self._open(run_id, self.start_step(step, context), context, None, parent, frame, read_result)

    def retriever_start(
        self, run_id: UUID, parent_run_id: UUID | None, serialized: Any, query: Any, kwargs: Mapping[str, Any]
    ) -> None:
        frame = _FRAME.get()
        parent, context = self._parent(parent_run_id, frame)
        step = extract.retriever_step(serialized, query, kwargs, self.telemetry.captures_content)
        read_result = functools.partial(extract.retriever_result, step)
        self._open(run_id, self.start_step(step, context), context, None, parent, frame, read_result)

    # --- progress and ends

    def new_token(self, run_id: UUID) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.scope, LiveModelCall) and run.scope.call.streaming:
            run.scope.on_chunk()

    def end(self, run_id: UUID, result: Any = None) -> None:
        """A run finished: read its result into its record, end its span, forget it."""
        run = self._runs.pop(run_id, None)
        if run is None or run.scope is None:
            return
        scope = run.scope
        if run.read_result is not None:
            run.read_result(result, self.telemetry.captures_content)
        if isinstance(scope, LiveStep):
            self._wrapper_result(run, scope.step)
            scope.step.abandoned = scope.step.abandoned or run.abandoned
        scope.finish()

    def fail(self, run_id: UUID, error: BaseException) -> None:
        """A run failed (or its stream was closed early: abandoned, not an error)."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        abandoned = reader_went_away(error)
        parent = run.parent
        if not abandoned and parent is not None and parent.kind == _FALLBACKS and parent.first_error is None:
            parent.first_error = error_type(error)
        if run.scope is None:
            return
        if isinstance(run.scope, LiveStep):
            self._wrapper_result(run, run.scope.step)
            run.scope.step.abandoned = run.scope.step.abandoned or abandoned
        run.scope.finish(None if abandoned else error, abandoned)

    @staticmethod
    def _wrapper_result(run: Run, step: Step) -> None:
        if not isinstance(step, WorkflowStep):
            return
        if run.kind == _FALLBACKS and run.attempts:
            step.fallback_attempts = run.attempts
            step.fallback_primary_error = run.first_error
        elif run.kind == _RETRY:
            step.retry_attempts = run.attempts


# --- execution wrappers: attach a run's context around LangChain's real work, in one frame


def call_in_frame(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Run a method that starts a run, with a frame its run claims; the claimed context is detached on return."""
    frame = ExecutionFrame(instance)
    reset = _FRAME.set(frame)
    try:
        return wrapped(*args, **kwargs)
    finally:
        frame.release()
        _FRAME.reset(reset)


async def acall_in_frame(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`call_in_frame` for coroutines."""
    frame = ExecutionFrame(instance)
    reset = _FRAME.set(frame)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        frame.release()
        _FRAME.reset(reset)


def stream_in_frame(iterator: Iterator[Any], frame: ExecutionFrame) -> Iterator[Any]:
    """Re-yield a LangChain stream: the frame is set while LangChain computes each chunk, never while the caller
    runs; a caller that closes the stream early marks the frame's run abandoned."""
    try:
        while True:
            reset = _FRAME.set(frame)
            token = _attach_claimed(frame)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            finally:
                frame.release()
                if token is not None:
                    detach_quietly(token)
                _FRAME.reset(reset)
            try:
                yield chunk
            except GeneratorExit:
                _mark_abandoned(frame)
                raise
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def astream_in_frame(iterator: AsyncIterator[Any], frame: ExecutionFrame) -> AsyncIterator[Any]:
    """`stream_in_frame` for async generators."""
    try:
        while True:
            reset = _FRAME.set(frame)
            token = _attach_claimed(frame)
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                return
            finally:
                frame.release()
                if token is not None:
                    detach_quietly(token)
                _FRAME.reset(reset)
            try:
                yield chunk
            except GeneratorExit:
                _mark_abandoned(frame)
                raise
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _mark_abandoned(frame: ExecutionFrame) -> None:
    if frame.run is not None:
        frame.run.abandoned = True


def _attach_claimed(frame: ExecutionFrame) -> object | None:
    run = frame.run
    return otel_context.attach(run.context) if run is not None else None


def stream_under(iterator: Iterator[Any], context: otel_context.Context) -> Iterator[Any]:
    """Re-yield a generator with `context` attached while each item is produced."""
    try:
        while True:
            token = otel_context.attach(context)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                detach_quietly(token)
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def astream_under(iterator: AsyncIterator[Any], context: otel_context.Context) -> AsyncIterator[Any]:
    """`stream_under` for async generators."""
    try:
        while True:
            token = otel_context.attach(context)
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                return
            finally:
                detach_quietly(token)
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
