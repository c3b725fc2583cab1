"""Stream proxies and generator wrappers that keep telemetry open until the caller is done with the stream.

The span ends exactly once: when the stream is exhausted, fails, is closed, is left through `with`, or is
garbage-collected. A stream left before its end is marked abandoned. A model stream's span is never current while
the caller iterates; a generator's scope is current only while the generator itself runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

import wrapt

from .telemetry import LiveModelCall, LiveSpan

logger = logging.getLogger(__name__)


class ChunkHandler(Protocol):
    """What an integration does with the chunks of its streams."""

    def on_chunk(self, chunk: Any) -> bool:
        """Record what the chunk says; return False to hide it from the caller."""

    def on_end(self) -> None:
        """Write what the chunks said into the call record (called once, before the span ends)."""


def _accept(scope: LiveModelCall, handler: ChunkHandler, chunk: Any) -> bool:
    try:
        keep = handler.on_chunk(chunk)
    except Exception:
        logger.debug("failed to read a stream chunk", exc_info=True)
        keep = True
    if keep:
        scope.on_chunk()
    return keep


def _end(scope: LiveModelCall, handler: ChunkHandler, error: BaseException | None, abandoned: bool) -> None:
    if scope.finished:
        return
    try:
        handler.on_end()
    except Exception:
        logger.debug("failed to assemble a stream", exc_info=True)
    scope.finish(error, abandoned)


def reader_went_away(error: BaseException) -> bool:
    """A stream interrupted by its reader leaving (closed generator, cancelled task) is abandoned, not failed."""
    return isinstance(error, (GeneratorExit, asyncio.CancelledError))


def _end_on_error(scope: LiveModelCall, handler: ChunkHandler, error: BaseException) -> None:
    abandoned = reader_went_away(error)
    _end(scope, handler, None if abandoned else error, abandoned)


class _StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """What both stream proxies share: the live call, the chunk handler, and ending as abandoned when the caller
    leaves the stream (close, `with` exit, garbage collection) before its end."""

    def __init__(self, stream: Any, scope: LiveModelCall, handler: ChunkHandler) -> None:
        super().__init__(stream)
        self._self_scope = scope
        self._self_handler = handler

    def _self_left(self) -> None:
        _end(self._self_scope, self._self_handler, None, True)

    def __del__(self) -> None:
        self._self_left()


class SyncStreamProxy(_StreamProxy):
    """Wraps a synchronous stream; behaves exactly like it for the caller."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        # Reading a chunk only parses what the client already received: nothing to put under the span, so the span
        # is never made current here (the caller's own context stays current throughout).
        scope = self._self_scope
        try:
            while True:
                chunk = self.__wrapped__.__next__()
                if _accept(scope, self._self_handler, chunk):
                    return chunk
        except StopIteration:
            _end(scope, self._self_handler, None, False)
            raise
        except BaseException as error:
            _end_on_error(scope, self._self_handler, error)
            raise

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_left()

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_left()


class AsyncStreamProxy(_StreamProxy):
    """Wraps an asynchronous stream; behaves exactly like it for the caller."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        scope = self._self_scope
        try:
            while True:
                chunk = await self.__wrapped__.__anext__()
                if _accept(scope, self._self_handler, chunk):
                    return chunk
        except StopAsyncIteration:
            _end(scope, self._self_handler, None, False)
            raise
        except BaseException as error:
            _end_on_error(scope, self._self_handler, error)
            raise

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_left()

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_left()


class _EndsWhenDropped:
    """Held by a generator wrapper from its creation: when the wrapper is dropped, started or not, this ends its
    scope as abandoned (a generator never started runs none of its code when closed or collected); a scope that
    already ended is left as it is."""

    __slots__ = ("scope",)

    def __init__(self, scope: LiveSpan) -> None:
        self.scope = scope

    def __del__(self) -> None:
        self.scope.finish(abandoned=True)


def trace_generator(
    generator: Generator[Any, Any, Any],
    scope: LiveSpan,
    on_item: Callable[[Any], None] | None = None,
    on_return: Callable[[Any], None] | None = None,
) -> Generator[Any, Any, Any]:
    """Re-yield `generator` with `scope` current while it runs, and end the scope with it.

    `send`, `throw` and `close` reach the inner generator, and its return value is returned (and shown to
    `on_return` first), so `answer = yield from traced` works as it did. Closing early, or garbage collection (even
    before the first item), marks the scope abandoned.
    """
    return _traced(generator, _EndsWhenDropped(scope), on_item, on_return)


def _traced(
    generator: Generator[Any, Any, Any],
    owner: _EndsWhenDropped,
    on_item: Callable[[Any], None] | None,
    on_return: Callable[[Any], None] | None,
) -> Generator[Any, Any, Any]:
    scope = owner.scope
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = scope.activate()
        try:
            if thrown is not None:
                error, thrown = thrown, None
                item = generator.throw(error)
            else:
                item = generator.send(sent)
        except StopIteration as stop:
            scope.deactivate(token)  # end outside the span: its metrics are not recorded as its own exemplars
            _observe(on_return, stop.value)
            scope.finish()
            return stop.value
        except BaseException as error:
            scope.deactivate(token)
            scope.finish(error)
            raise
        scope.deactivate(token)
        _observe(on_item, item)
        try:
            sent = yield item
        except GeneratorExit:
            try:
                generator.close()
            finally:
                scope.finish(abandoned=True)
            raise
        except BaseException as error:
            thrown = error


def trace_async_generator(
    generator: AsyncGenerator[Any, Any], scope: LiveSpan, on_item: Callable[[Any], None] | None = None
) -> AsyncGenerator[Any, Any]:
    """The asynchronous twin of `trace_generator`."""
    return _traced_async(generator, _EndsWhenDropped(scope), on_item)


async def _traced_async(
    generator: AsyncGenerator[Any, Any], owner: _EndsWhenDropped, on_item: Callable[[Any], None] | None
) -> AsyncGenerator[Any, Any]:
    scope = owner.scope
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = scope.activate()
        try:
            if thrown is not None:
                error, thrown = thrown, None
                item = await generator.athrow(error)
            else:
                item = await generator.asend(sent)
        except StopAsyncIteration:
            scope.deactivate(token)
            scope.finish()
            return
        except BaseException as error:
            scope.deactivate(token)
            _end_scope_on_error(scope, error)
            raise
        scope.deactivate(token)
        _observe(on_item, item)
        try:
            sent = yield item
        except GeneratorExit:
            try:
                await generator.aclose()
            finally:
                scope.finish(abandoned=True)
            raise
        except BaseException as error:
            thrown = error


def _observe(on_item: Callable[[Any], None] | None, item: Any) -> None:
    if on_item is None:
        return
    try:
        on_item(item)
    except Exception:
        logger.debug("failed to read a streamed item", exc_info=True)


def _end_scope_on_error(scope: LiveSpan, error: BaseException) -> None:
    abandoned = reader_went_away(error)
    scope.finish(None if abandoned else error, abandoned)
