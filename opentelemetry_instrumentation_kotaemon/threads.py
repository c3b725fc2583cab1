"""The caller's trace carried into threads, for every app this package instruments.

Kotaemon runs hybrid search, re-ranking, citations and tools in `threading.Thread`s and `ThreadPoolExecutor`s, and
apps hand model calls to pools of their own; without this, the work in them starts traces of its own. The context
current when a thread is started, or a function is submitted to a pool, is made current in that thread while it runs
the work: the job of `opentelemetry-instrumentation-threading`, without its dependency (see docs/install.md).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from typing import Any

from opentelemetry import context

from .patching import Target

_CAPTURED = "_kotaemon_otel_context"


def _capture_at_start(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    with contextlib.suppress(Exception):  # a thread that takes no attributes runs as it would have
        setattr(instance, _CAPTURED, context.get_current())
    return wrapped(*args, **kwargs)


def _run_in_captured(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    captured = getattr(instance, _CAPTURED, None)
    if captured is None:
        return wrapped(*args, **kwargs)
    token = context.attach(captured)
    try:
        return wrapped(*args, **kwargs)
    finally:
        context.detach(token)


def _submit_in_current(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if not args or not callable(args[0]) or type(getattr(args[0], "__self__", None)) is contextvars.Context:
        # A pool that runs its work in a copy of the submitter's contextvars (LangChain's does) carries the trace.
        return wrapped(*args, **kwargs)
    function, captured = args[0], context.get_current()

    def in_captured_context(*call_args: Any, **call_kwargs: Any) -> Any:
        token = context.attach(captured)
        try:
            return function(*call_args, **call_kwargs)
        finally:
            context.detach(token)

    return wrapped(in_captured_context, *args[1:], **kwargs)


TARGETS = [
    Target("threading", "Thread.start", _capture_at_start),
    Target("threading", "Thread.run", _run_in_captured),
    Target("threading", "Timer.run", _run_in_captured),
    Target("concurrent.futures.thread", "ThreadPoolExecutor.submit", _submit_in_current),
]
"""What carries the context: `Thread.start` captures it and `run` makes it current (a `Timer` has its own `run`);
`ThreadPoolExecutor.submit` captures it for the function it queues."""
