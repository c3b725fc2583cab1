"""Wrapper factories that run a model call under its telemetry, fail-safe.

An integration supplies two plain functions: `build` turns the call's arguments into a `ModelCall` record (and
may return adjusted keyword arguments), `read_result` fills the record from the result and returns a
`ChunkHandler` when the result is a stream. Any error inside them is logged at debug level and the user's call
goes ahead untouched.

An integration that adjusts arguments also supplies `refused`, which tells whether an error is the server refusing
the adjustment: the call is then made again, once, with the app's own arguments, under the same span, and the app
sees only the outcome of that call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .spans import ModelCall
from .streams import AsyncStreamProxy, ChunkHandler, SyncStreamProxy
from .telemetry import LiveModelCall, Telemetry

logger = logging.getLogger(__name__)

Build = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[ModelCall, dict[str, Any]]]
ReadResult = Callable[[ModelCall, Any], "ChunkHandler | None"]
Refused = Callable[[ModelCall, Any, dict[str, Any], BaseException], bool]
"""(call, instance, the app's kwargs, error): whether `error` is the server refusing what `build` changed."""
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _start(
    telemetry: Telemetry, build: Build, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[LiveModelCall | None, dict[str, Any]]:
    if not telemetry.enabled:
        return None, kwargs
    try:
        call, call_kwargs = build(instance, args, kwargs)
        scope = telemetry.start_model_call(call)
    except Exception:
        logger.debug("failed to start telemetry for a model call", exc_info=True)
        return None, kwargs
    return scope, (call_kwargs if scope is not None else kwargs)


def _complete(scope: LiveModelCall, result: Any, read_result: ReadResult, proxy: type[Any]) -> Any:
    try:
        handler = read_result(scope.call, result)
    except Exception:
        logger.debug("failed to read a model response", exc_info=True)
        handler = None
    if handler is None:
        scope.finish()
        return result
    return proxy(result, scope, handler)


def _is_refusal(refused: Refused, call: ModelCall, instance: Any, kwargs: dict[str, Any], error: BaseException) -> bool:
    try:
        return refused(call, instance, kwargs, error)
    except Exception:
        logger.debug("failed to read a model call's error", exc_info=True)
        return False


def _call_changed(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    changed: dict[str, Any],
    call: ModelCall,
    refused: Refused,
) -> Any:
    """The call with our `changed` arguments; when the server refuses the change, the call as the app made it."""
    try:
        return wrapped(*args, **changed)
    except Exception as error:
        if not _is_refusal(refused, call, instance, kwargs, error):
            raise
    return wrapped(*args, **kwargs)  # outside the handler: an error of this call is not chained to the refusal


async def _acall_changed(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    changed: dict[str, Any],
    call: ModelCall,
    refused: Refused,
) -> Any:
    """`_call_changed` for a coroutine."""
    try:
        return await wrapped(*args, **changed)
    except Exception as error:
        if not _is_refusal(refused, call, instance, kwargs, error):
            raise
    return await wrapped(*args, **kwargs)


def traced_call(telemetry: Telemetry, build: Build, read_result: ReadResult, refused: Refused | None = None) -> Wrapper:
    """A wrapt wrapper for a synchronous model call."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        scope, call_kwargs = _start(telemetry, build, instance, args, kwargs)
        if scope is None:
            return wrapped(*args, **kwargs)
        if refused is None or call_kwargs is kwargs:
            result = scope.run(wrapped, *args, **call_kwargs)
        else:
            result = scope.run(_call_changed, wrapped, instance, args, kwargs, call_kwargs, scope.call, refused)
        return _complete(scope, result, read_result, SyncStreamProxy)

    return wrapper


def traced_async_call(
    telemetry: Telemetry, build: Build, read_result: ReadResult, refused: Refused | None = None
) -> Wrapper:
    """A wrapt wrapper for an asynchronous model call."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        scope, call_kwargs = _start(telemetry, build, instance, args, kwargs)
        if scope is None:
            return await wrapped(*args, **kwargs)
        if refused is None or call_kwargs is kwargs:
            awaitable = wrapped(*args, **call_kwargs)
        else:
            awaitable = _acall_changed(wrapped, instance, args, kwargs, call_kwargs, scope.call, refused)
        result = await scope.run_async(awaitable)
        return _complete(scope, result, read_result, AsyncStreamProxy)

    return wrapper
