"""Kotaemon components: LLMs, embeddings, retrievers, re-rankers, tools, agents, indexing and pipelines; and what
the users of its web app (ktem) say about the answers (`feedback`).

Every component is a theflow `Function`, and subclasses override `run`, `invoke`, `stream`... at every level, so
methods are wrapped class by class: the classes that exist when `kotaemon.base.component` is imported, and every
subclass defined later (through `BaseComponent.__init_subclass__`, which theflow fires twice per class). Each
class's own methods are wrapped once; what a call records is decided from the class of the instance at call time.
Nested calls of one logical call (`__call__ -> run -> invoke`) collapse in the core: model calls by the
count-once rule, steps by their owner.
"""

from __future__ import annotations

import inspect
import logging
import threading
import types
import weakref
from collections.abc import Callable, Generator
from typing import Any

import wrapt

from .. import attributes as attr
from ..core.spans import IndexingStep, ModelCall, Step
from ..core.streams import trace_async_generator, trace_generator
from ..core.telemetry import LiveSpan, Telemetry, current_model_call, current_step
from ..patching import Patcher, Target, check_version
from . import feedback, models
from .classify import Family, family_of
from .ktem_hooks import FILE_CHUNKS
from .params import bind
from .steps import READINGS, StepReading, identify

logger = logging.getLogger(__name__)

_COMPONENT_MODULE = "kotaemon.base.component"
_METHODS = ("run", "invoke", "ainvoke", "stream", "astream")


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Wrap Kotaemon's components now or when `kotaemon` is imported."""
    components = Components(telemetry)
    patcher.on_import(_COMPONENT_MODULE, components.attach)
    patcher.add_cleanup(components.detach)
    patcher.patch([Target(FILE_CHUNKS.module, FILE_CHUNKS.path, _count_chunks)])
    feedback.instrument(patcher, telemetry)


def _count_chunks(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """ktem's `IndexPipeline.handle_docs` is a generator returning how many chunks of the file it stored: that
    number goes on the file's indexing step."""
    result = wrapped(*args, **kwargs)
    try:
        step = current_step()
        if isinstance(step, IndexingStep) and inspect.isgenerator(result):
            return _chunks_into(step, result)
    except Exception:
        logger.debug("failed to count ktem's chunks", exc_info=True)
    return result


def _chunks_into(step: IndexingStep, chunks: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    count = yield from chunks
    if isinstance(count, int) and not isinstance(count, bool):
        step.chunks = count
    return count


class _ModelReader:
    """Reads the result of an LLM or embedding call into its record."""

    __slots__ = ("call", "content", "scope", "text")

    def __init__(self, scope: Any, call: ModelCall, content: bool) -> None:
        self.scope = scope
        self.call = call
        self.content = content
        self.text = models.StreamText(call) if content else None

    def streaming(self) -> None:
        self.call.streaming = True

    def item(self, chunk: Any) -> None:
        self.scope.on_chunk()
        if self.text is not None:
            self.text.add(chunk)

    def done(self, result: Any) -> None:
        if self.call.operation == attr.OPERATION_EMBEDDINGS:
            models.embedding_result(self.call, result)
        else:
            models.llm_result(self.call, result, self.content)


class _StepReader:
    """Reads the result (or the streamed items) of a step into its record."""

    __slots__ = ("content", "reading", "step")

    def __init__(self, step: Step, reading: StepReading, content: bool) -> None:
        self.step = step
        self.reading = reading
        self.content = content

    def streaming(self) -> None:
        pass

    def item(self, item: Any) -> None:
        if self.reading.read_item is not None:
            self.reading.read_item(self.step, item, self.content)

    def done(self, result: Any) -> None:
        if self.reading.read_result is not None:
            self.reading.read_result(self.step, result, self.content)


_Reader = _ModelReader | _StepReader


def _read(reader: _Reader, result: Any) -> None:
    try:
        reader.done(result)
    except Exception:
        logger.debug("failed to read a Kotaemon result", exc_info=True)


def _complete(scope: LiveSpan, reader: _Reader, result: Any) -> Any:
    """Hand back the result; generators and coroutines keep the scope open until they end."""
    if inspect.isgenerator(result):
        reader.streaming()
        # a step's generator returns its result (ktem: the answer, indexing results); a model stream's is in its chunks
        on_return = reader.done if isinstance(reader, _StepReader) else None
        return trace_generator(result, scope, reader.item, on_return)
    if inspect.isasyncgen(result):
        reader.streaming()
        return trace_async_generator(result, scope, reader.item)
    if inspect.iscoroutine(result):
        return _awaited(scope, reader, result)
    _read(reader, result)
    scope.finish()
    return result


async def _awaited(scope: LiveSpan, reader: _Reader, coroutine: Any) -> Any:
    return _complete(scope, reader, await scope.run_async(coroutine))


def _run(scope: LiveSpan, reader: _Reader, wrapped: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    return _complete(scope, reader, scope.run(wrapped, *args, **kwargs))


def _subclasses(base: type) -> list[type]:
    found: list[type] = []
    pending: list[type] = list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


class Components:
    """Wraps component classes as they appear, and traces their calls."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.trace_all_steps = telemetry.settings.trace_all_steps
        self._base: type | None = None
        self._previous_hook: Any = None
        self._applied: list[tuple[weakref.ref[type], str, Any]] = []
        self._families: weakref.WeakKeyDictionary[type, Family] = weakref.WeakKeyDictionary()
        self._lock = threading.RLock()
        self._wrappers = {name: self._wrapper(name) for name in _METHODS}

    # --- classes

    def attach(self, module: types.ModuleType) -> None:
        """Wrap the component classes that exist, and every one defined from now on."""
        base = getattr(module, "BaseComponent", None)
        if not isinstance(base, type) or self._base is not None:
            return
        check_version("kotaemon")
        check_version("theflow")
        self._base = base
        self._previous_hook = base.__dict__.get("__init_subclass__")
        components = self
        previous = self._previous_hook

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            if previous is not None:
                previous.__get__(None, cls)(**kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)  # type: ignore[arg-type]
            components.cover(cls)

        __init_subclass__._kotaemon_hook = True  # type: ignore[attr-defined]
        base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment,arg-type]
        for cls in _subclasses(base):
            self.cover(cls)

    def cover(self, cls: type) -> None:
        """Wrap the traced methods defined by `cls` and its bases (mixins included); idempotent, never raises."""
        base = self._base
        if base is None:
            return
        try:
            with self._lock:
                for klass in cls.__mro__:
                    if klass in base.__mro__:
                        continue
                    for name in _METHODS:
                        function = klass.__dict__.get(name)
                        if type(function) is not types.FunctionType:  # absent, or already wrapped
                            continue
                        wrapper = wrapt.FunctionWrapper(function, self._wrappers[name])
                        wrapper._self_kotaemon = True  # type: ignore[attr-defined]
                        setattr(klass, name, wrapper)
                        self._applied.append((weakref.ref(klass), name, function))
        except Exception:
            logger.debug("failed to instrument %r", cls, exc_info=True)

    def detach(self) -> None:
        """Restore every wrapped method and the subclass hook."""
        with self._lock:
            applied, self._applied = self._applied, []
            for ref, name, original in reversed(applied):
                klass = ref()
                if klass is not None and getattr(klass.__dict__.get(name), "_self_kotaemon", False):
                    setattr(klass, name, original)
            base, self._base = self._base, None
            if base is not None:
                hook = base.__dict__.get("__init_subclass__")
                if getattr(getattr(hook, "__func__", None), "_kotaemon_hook", False):
                    if self._previous_hook is not None:
                        base.__init_subclass__ = self._previous_hook  # type: ignore[assignment]
                    else:
                        delattr(base, "__init_subclass__")
            self._families = weakref.WeakKeyDictionary()

    def _family(self, cls: type) -> Family:
        family = self._families.get(cls)
        if family is None:
            family = self._families[cls] = family_of(cls)
        return family

    # --- calls

    def _wrapper(self, method: str) -> Callable[..., Any]:
        telemetry = self.telemetry
        is_stream = method in ("stream", "astream")

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if instance is None or not telemetry.enabled:
                return wrapped(*args, **kwargs)
            try:
                family = self._family(type(instance))
            except Exception:
                logger.debug("failed to classify %r", type(instance), exc_info=True)
                return wrapped(*args, **kwargs)
            if method not in family.methods:
                return wrapped(*args, **kwargs)
            if is_stream and not (inspect.isgeneratorfunction(wrapped) or inspect.isasyncgenfunction(wrapped)):
                # A plain `stream` (BaseLLM's) raises NotImplementedError at call time to tell the caller to fall
                # back to a plain call: that is not a call of its own. Trace only a stream it hands back.
                result = wrapped(*args, **kwargs)
                if not (inspect.isgenerator(result) or inspect.isasyncgen(result)):
                    return result
                started = self._start(family, method, wrapped, instance, args, kwargs)
                return result if started is None else _complete(started[0], started[1], result)
            started = self._start(family, method, wrapped, instance, args, kwargs)
            if started is None:
                return wrapped(*args, **kwargs)
            return _run(started[0], started[1], wrapped, args, kwargs)

        return wrapper

    def _start(
        self,
        family: Family,
        method: str,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[LiveSpan, _Reader] | None:
        """Open the telemetry of a call, or None when it is not traced here. Never raises."""
        telemetry = self.telemetry
        try:
            content = telemetry.captures_content
            if family.kind in (attr.KIND_LLM, attr.KIND_EMBEDDING):
                call = models.model_call(instance, family, method, args, kwargs, content)
                model_scope = telemetry.start_model_call(call)
                return None if model_scope is None else (model_scope, _ModelReader(model_scope, call, content))
            if not (family.always or self.trace_all_steps) and (
                current_step() is not None or current_model_call() is not None
            ):
                return None  # a plain component inside a traced one
            reading = READINGS[family.kind]
            arguments = bind(wrapped, args, kwargs) if reading.binds_arguments or family.reasoning else {}
            step = reading.build(instance, arguments, content)
            if family.reasoning or family.kind == attr.KIND_INDEXING:
                identify(step, instance, arguments)
            step_scope = telemetry.start_step(step)
            return None if step_scope is None else (step_scope, _StepReader(step, reading, content))
        except Exception:
            logger.debug("failed to start telemetry for a Kotaemon call", exc_info=True)
            return None
