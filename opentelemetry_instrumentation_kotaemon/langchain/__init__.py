"""LangChain (langchain-core 0.2 to 1.x, langchain-openai): chains, chat models, LLMs, retrievers, tools, agents.

LangChain is hooked the way it asks to be: a configure hook (`register_configure_hook`, the way its own tracers
are added) puts one callback handler of ours, inheritable and once, into the callback manager of every run, next to
the user's own; child managers inherit it. Spans are opened from those callbacks. A few execution
methods are wrapped only to attach the run's context around the real work, so that calls made inside a model,
tool or retriever run (the OpenAI client above all) nest under it, and the OpenAI call merges into the
LangChain model call (one span, tokens counted once). Importing this package does not import LangChain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context

from ..core.telemetry import Telemetry
from ..patching import Patcher, Target, Wrapper, check_version
from .runs import (
    ExecutionFrame,
    RunTracker,
    acall_in_frame,
    astream_in_frame,
    astream_under,
    call_in_frame,
    current_frame,
    detach_quietly,
    stream_in_frame,
    stream_under,
)

logger = logging.getLogger(__name__)

_CONFIGURE_HOOKS = "langchain_core.tracers.context"
_RUNNABLES = "langchain_core.runnables.base"
_FALLBACKS = "langchain_core.runnables.fallbacks"
_TOOLS = "langchain_core.tools.base"
_RETRIEVERS = "langchain_core.retrievers"
_CHAT_MODELS = "langchain_core.language_models.chat_models"
_LLMS = "langchain_core.language_models.llms"
_OPENAI_CHAT = "langchain_openai.chat_models.base"
_OPENAI_LLMS = "langchain_openai.llms.base"


class _Hooks:
    """The wrappers of one instrumentation, sharing its run tracker and its callback handler."""

    def __init__(self, telemetry: Telemetry, tracker: RunTracker) -> None:
        self.telemetry = telemetry
        self.tracker = tracker
        self._handler: Any = None

    def handler(self) -> Any:
        if self._handler is None:
            from .handler import TelemetryCallbackHandler

            self._handler = TelemetryCallbackHandler(self.tracker)
        return self._handler

    def register_handler(self, module: ModuleType) -> Callable[[], None]:
        """Register our handler with LangChain's configure hooks (in `module`, `langchain_core.tracers.context`);
        the function returned takes it out again. The hook's context variable defaults to the handler, so every
        thread and task sees it without setting it."""
        handler_var = ContextVar("opentelemetry_kotaemon_handler", default=self.handler())  # noqa: B039 (one handler for all, on purpose)
        module.register_configure_hook(handler_var, True)
        hooks: list[Any] = module._configure_hooks  # LangChain offers no way to unregister

        def unregister() -> None:
            hooks[:] = [hook for hook in hooks if hook[0] is not handler_var]

        return unregister

    def in_frame(self, asynchronous: bool = False) -> Wrapper:
        """A wrapper running a method that starts a run in a frame its run claims (see `runs.ExecutionFrame`)."""
        call = acall_in_frame if asynchronous else call_in_frame

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            if not self.telemetry.enabled:
                return wrapped(*args, **kwargs)
            return call(wrapped, instance, args, kwargs)

        return wrapper

    def stream_in_frame(self, asynchronous: bool = False, model: bool = False) -> Wrapper:
        """A wrapper re-yielding a chain's (or, `model`, a model's) stream with its run's frame set while LangChain
        computes each chunk."""
        reyield = astream_in_frame if asynchronous else stream_in_frame

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            if not self.telemetry.enabled:
                return result
            return reyield(result, ExecutionFrame(instance, streaming=model))

        return wrapper

    def _run_context(self, args: Any, kwargs: Any, position: int, many: bool) -> Any:
        """The context of the run whose manager(s) the method received, if we track it."""
        try:
            manager = kwargs.get("run_managers" if many else "run_manager")
            if manager is None and len(args) > position:
                manager = args[position]
            if many:
                manager = manager[0] if manager is not None and len(manager) == 1 else None
            run = self.tracker.get(getattr(manager, "run_id", None))
        except Exception:
            logger.debug("failed to find the LangChain run", exc_info=True)
            return None
        return run.context if run is not None else None

    def under_run(self, position: int, many: bool = False) -> Wrapper:
        """A wrapper attaching the context of the run whose manager is argument `position` (or the keyword)."""

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            context = self._run_context(args, kwargs, position, many) if self.telemetry.enabled else None
            if context is None:
                return wrapped(*args, **kwargs)
            token = otel_context.attach(context)
            try:
                return wrapped(*args, **kwargs)
            finally:
                detach_quietly(token)

        return wrapper

    def under_run_async(self, position: int, many: bool = False) -> Wrapper:
        """`under_run` for coroutines."""

        async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            context = self._run_context(args, kwargs, position, many) if self.telemetry.enabled else None
            if context is None:
                return await wrapped(*args, **kwargs)
            token = otel_context.attach(context)
            try:
                return await wrapped(*args, **kwargs)
            finally:
                detach_quietly(token)

        return wrapper

    def _stream_context(self, kwargs: Any) -> Any:
        """The model run a provider's `_stream` belongs to: its run manager, else the model stream's frame."""
        context = self._run_context((), kwargs, 0, False)
        if context is None:
            frame = current_frame()
            if frame is not None and frame.streaming and frame.run is not None:
                context = frame.run.context
        return context

    def provider_stream(self, asynchronous: bool = False) -> Wrapper:
        """A wrapper for a provider's `_stream` (`_astream`): its client call is made under the model run's context."""
        reyield = astream_under if asynchronous else stream_under

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            context = self._stream_context(kwargs) if self.telemetry.enabled else None
            return result if context is None else reyield(result, context)

        return wrapper


def _targets(hooks: _Hooks) -> list[Target]:
    return [
        Target(_RUNNABLES, "Runnable._call_with_config", hooks.in_frame()),
        Target(_RUNNABLES, "Runnable._acall_with_config", hooks.in_frame(asynchronous=True)),
        Target(_RUNNABLES, "Runnable._transform_stream_with_config", hooks.stream_in_frame()),
        Target(_RUNNABLES, "Runnable._atransform_stream_with_config", hooks.stream_in_frame(asynchronous=True)),
        Target(_FALLBACKS, "RunnableWithFallbacks.invoke", hooks.in_frame()),
        Target(_FALLBACKS, "RunnableWithFallbacks.ainvoke", hooks.in_frame(asynchronous=True)),
        Target(_TOOLS, "BaseTool.run", hooks.in_frame()),
        Target(_TOOLS, "BaseTool.arun", hooks.in_frame(asynchronous=True)),
        Target(_RETRIEVERS, "BaseRetriever.invoke", hooks.in_frame()),
        Target(_RETRIEVERS, "BaseRetriever.ainvoke", hooks.in_frame(asynchronous=True)),
        Target(_CHAT_MODELS, "BaseChatModel._generate_with_cache", hooks.under_run(2)),
        Target(_CHAT_MODELS, "BaseChatModel._agenerate_with_cache", hooks.under_run_async(2)),
        Target(_CHAT_MODELS, "BaseChatModel.stream", hooks.stream_in_frame(model=True)),
        Target(_CHAT_MODELS, "BaseChatModel.astream", hooks.stream_in_frame(asynchronous=True, model=True)),
        Target(_LLMS, "BaseLLM._generate_helper", hooks.under_run(2, many=True)),
        Target(_LLMS, "BaseLLM._agenerate_helper", hooks.under_run_async(2, many=True)),
        Target(_LLMS, "BaseLLM.stream", hooks.stream_in_frame(model=True)),
        Target(_LLMS, "BaseLLM.astream", hooks.stream_in_frame(asynchronous=True, model=True)),
        Target(_OPENAI_CHAT, "BaseChatOpenAI._stream", hooks.provider_stream()),
        Target(_OPENAI_CHAT, "BaseChatOpenAI._astream", hooks.provider_stream(asynchronous=True)),
        Target(_OPENAI_LLMS, "BaseOpenAI._stream", hooks.provider_stream()),
        Target(_OPENAI_LLMS, "BaseOpenAI._astream", hooks.provider_stream(asynchronous=True)),
    ]


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Hook LangChain's callback managers and execution methods now or when `langchain_core` is imported."""
    tracker = RunTracker(telemetry, telemetry.settings.langchain_all_runnables)
    hooks = _Hooks(telemetry, tracker)
    patcher.patch(_targets(hooks), before_wrapping=_check_versions)

    def register(module: ModuleType) -> None:
        try:
            patcher.add_cleanup(hooks.register_handler(module))
        except Exception:
            logger.warning("LangChain %s changed: its runs are not traced", _CONFIGURE_HOOKS, exc_info=True)

    patcher.on_import(_CONFIGURE_HOOKS, register)


def _check_versions() -> None:
    check_version("langchain-core")
    check_version("langchain-openai")
