"""Gradio, as Kotaemon's web app (ktem) runs it: each queued event in the context of the request that queued it.

Gradio processes queued events in asyncio tasks created by its queue loop, which `launch()` starts from a request of
its own (`GET /startup-events`); a task inherits its creator's context, so without this integration every event of
the process runs in the context of that startup request, and under an instrumented FastAPI one trace collects every
question of every user. Here the context is captured when the event is created (inside `POST /queue/join`, with
its server span when FastAPI is instrumented, else from the request's headers), and the event is processed in it
under one span named after what the user did. Gradio runs sync event functions in anyio worker threads (one call per
`next()` for generators) with a copy of the task's context, so the pipeline's spans stay in the event's trace.

Events the UI chains after another (`.then()`, `.success()`) are traces of their own: they link to the question
before them in the same browser session (the event whose pipeline named the conversation; else the event just before)
and carry its conversation and user. Versions whose internals moved are left as they are (one debug line per missing
method).

Each event's span and the `GET /queue/data` requests of its browser session open while it runs (the stream that
carries its messages to the browser) link to each other (`streams`).

A batched event function (`batch=True`) is called once for the events of several users queued at the same time: each
event keeps its own span, in the trace of the request that queued it, and the call itself gets a span in a trace of
its own (`{framework} {name} batch`, linked to every event's span and back), where the work it does goes: it serves
them all, so it belongs to no one user's trace. A batch of one event is processed like any event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from ..core.spans import AppEvent
from ..core.telemetry import EventTrail, LiveAppEvent, Telemetry, current_app_event
from ..patching import Patcher, Target, check_version
from . import extract
from .streams import DATA_STREAMS

logger = logging.getLogger(__name__)

_MODULE = "gradio.queueing"
_BLOCKS = "gradio.blocks"
_CONTEXT_ATTRIBUTE = "_otel_kotaemon_context"
_SESSIONS = 1024
"""Browser sessions whose last events are remembered for the events chained after them (oldest forgotten first)."""


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Wrap Gradio's queue now or when `gradio` is imported."""
    events = QueueEvents(telemetry)
    DATA_STREAMS.telemetry = telemetry
    patcher.patch(
        [
            Target(_MODULE, "Event.__init__", events.on_created),
            Target(_MODULE, "Queue.process_events", events.on_process),
            Target(_BLOCKS, "Blocks.process_api", events.on_api_call),
        ],
        before_wrapping=lambda: check_version("gradio"),
    )


class QueueEvents:
    """Captures each event's request context, processes the event in it, and links chained events."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._trails: OrderedDict[str, dict[Any, EventTrail]] = OrderedDict()
        self._lock = threading.Lock()

    def on_created(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        if instance is not None and self.telemetry.enabled:
            try:
                setattr(instance, _CONTEXT_ATTRIBUTE, otel_context.get_current())
            except Exception:
                logger.debug("could not keep the context of a Gradio event", exc_info=True)
        return result

    def on_process(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if not self.telemetry.enabled:
            return wrapped(*args, **kwargs)
        try:
            events = list(args[0] if args else kwargs["events"])
            traced = [_Queued(event) for event in events]
            traced = [queued for queued in traced if queued.record is not None and queued.parent is not None]
        except Exception:
            logger.debug("unexpected Gradio events; not traced", exc_info=True)
            return wrapped(*args, **kwargs)
        if not traced:
            return wrapped(*args, **kwargs)
        if len(events) > 1:
            return self._process_batch(wrapped(*args, **kwargs), instance, traced, len(events))
        return self._process(wrapped(*args, **kwargs), instance, traced[0])

    async def on_api_call(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        """Keep the exception an event's function raised: Gradio catches it and reports the event as failed."""
        try:
            return await wrapped(*args, **kwargs)
        except Exception as error:
            event = current_app_event()
            if event is not None:
                event.failure = error
            raise

    async def _process(self, processing: Coroutine[Any, Any, Any], queue: Any, queued: _Queued) -> Any:
        scope = self._start(queue, queued)
        if scope is None:
            return await processing
        token = scope.activate()
        try:
            return await processing
        except asyncio.CancelledError:
            scope.status = "cancelled"
            raise
        except BaseException as error:
            scope.finish(error)
            raise
        finally:
            scope.deactivate(token)
            self._end(scope, queue, queued.event)

    async def _process_batch(
        self, processing: Coroutine[Any, Any, Any], queue: Any, traced: list[_Queued], size: int
    ) -> Any:
        """Process one call of a batched function: a span per event, in its own trace, and one for the call."""
        started = [(queued, self._start(queue, queued)) for queued in traced]
        scopes = [(queued.event, scope) for queued, scope in started if scope is not None]
        batch = self._start_batch(traced[0].record, size, [scope for _, scope in scopes])
        token = batch.activate() if batch is not None else None
        error: BaseException | None = None
        try:
            return await processing
        except asyncio.CancelledError as cancelled:
            error = cancelled
            raise
        except BaseException as failure:
            error = failure
            raise
        finally:
            if batch is not None:
                batch.deactivate(token)
            self._end_batch(batch, scopes, queue, error)

    def _start_batch(self, record: AppEvent | None, size: int, events: list[LiveAppEvent]) -> LiveAppEvent | None:
        if record is None:
            return None
        try:
            batch = AppEvent(name=record.name, framework=record.framework, function=record.function, batch_size=size)
            return self.telemetry.start_app_batch(batch, events)
        except Exception:
            logger.debug("failed to start telemetry for a Gradio batch", exc_info=True)
            return None

    def _end_batch(
        self,
        batch: LiveAppEvent | None,
        scopes: list[tuple[Any, LiveAppEvent]],
        queue: Any,
        error: BaseException | None,
    ) -> None:
        """End each event as Gradio says it ended (failed ones with the exception the call raised), then the call."""
        try:
            cancelled = isinstance(error, asyncio.CancelledError)
            failure = batch.failure if batch is not None else None
            for event, scope in scopes:
                scope.failure = failure
                if cancelled:
                    scope.status = "cancelled"
                elif error is not None:
                    scope.finish(error)
                self._end(scope, queue, event)
            if batch is None:
                return
            statuses = {scope.status for _, scope in scopes}
            batch.status = "cancelled" if cancelled else statuses.pop() if len(statuses) == 1 else None
            batch.finish(None if cancelled else error)
        except Exception:
            logger.debug("failed to end telemetry for a Gradio batch", exc_info=True)

    def _start(self, queue: Any, queued: _Queued) -> LiveAppEvent | None:
        event, record, parent = queued.event, queued.record, queued.parent
        if record is None or parent is None:
            return None
        try:
            if not trace.get_current_span(parent).get_span_context().is_valid:
                headers = extract.request_headers(event)
                if headers is not None:  # the server is not instrumented: continue the caller's trace, if any
                    parent = propagate.extract(headers, context=parent)
            scope = self.telemetry.start_app_event(record, parent, self._follows(queue, event, record))
        except Exception:
            logger.debug("failed to start telemetry for a Gradio event", exc_info=True)
            return None
        if scope is not None and scope.span is not None and record.session_id is not None:
            DATA_STREAMS.event_started(record.session_id, scope.span)
        return scope

    def _follows(self, queue: Any, event: Any, record: AppEvent) -> EventTrail | None:
        """The trail of the nearest event before this one in its chain, in the same browser session."""
        if record.session_id is None:
            return None
        with self._lock:
            trails = self._trails.get(record.session_id)
            trails = dict(trails) if trails else None
        for function_id in extract.predecessors(queue, event) if trails else ():
            trail = trails.get(function_id)  # type: ignore[union-attr]
            if trail is not None:
                return trail
        return None

    def _end(self, scope: LiveAppEvent, queue: Any, event: Any) -> None:
        try:
            if scope.span is not None and scope.event.session_id is not None:
                DATA_STREAMS.event_ended(scope.event.session_id, scope.span)
            if scope.status is None:
                scope.status = extract.status(queue, event)
            scope.finish()
            trail = scope.trail()
            session = scope.event.session_id
            function_id = extract.function_id(event)
            if trail is None or session is None or function_id is None:
                return
            with self._lock:
                trails = self._trails.pop(session, None) or {}
                trails[function_id] = trail
                self._trails[session] = trails
                while len(self._trails) > _SESSIONS:
                    self._trails.popitem(last=False)
        except Exception:
            logger.debug("failed to end telemetry for a Gradio event", exc_info=True)


class _Queued:
    """A queued event, its record, and the context of the request that queued it (None when not captured)."""

    __slots__ = ("event", "parent", "record")

    def __init__(self, event: Any) -> None:
        self.event = event
        self.record = extract.app_event(event)
        parent = getattr(event, _CONTEXT_ATTRIBUTE, None)
        self.parent: otel_context.Context | None = parent if isinstance(parent, otel_context.Context) else None
