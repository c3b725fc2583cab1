"""The one instrumentor behind the `opentelemetry_instrumentor` entry point."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from . import gradio as gradio_integration
from . import kotaemon as kotaemon_integration
from . import langchain as langchain_integration
from . import mcp as mcp_integration
from . import openai as openai_integration
from . import threads
from .core.log_correlation import LogCorrelation
from .core.log_export import LogExportGuard
from .core.telemetry import Telemetry
from .patching import Patcher
from .settings import Settings

logger = logging.getLogger(__name__)

_INTEGRATIONS = {
    "openai": openai_integration.instrument,
    "kotaemon": kotaemon_integration.instrument,
    "langchain": langchain_integration.instrument,
    "gradio": gradio_integration.instrument,
    "mcp": mcp_integration.instrument,
}


class KotaemonInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces Kotaemon, LangChain, the OpenAI client and Gradio's queue, each patched when the app imports it.

    Settings come from the environment (see the README); `instrument()` also takes `tracer_provider`,
    `meter_provider` and `logger_provider`. It also carries the trace into threads and thread pools, and puts trace
    ids on the app's log records and keeps exporting them when the app clears the root logger's handlers (unless
    `threading` or `logging` is in `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`). Where the ASGI instrumentation's message
    spans are dropped at sampling (releases before 0.49b0), its middleware's `receive` skips them (`sdk/asgi.py`).
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every `KotaemonInstrumentor()`, so the state of
    # an instrumentation lives in class-level defaults replaced by `_instrument`, never reset by __init__.
    _patchers: tuple[Patcher, ...] = ()
    _telemetry: Telemetry | None = None
    _log_correlation: LogCorrelation | None = None
    _log_export_guard: LogExportGuard | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        # Each library is optional and version-checked on import, so none is a hard requirement here.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        settings = Settings.from_env()
        telemetry = Telemetry(
            settings,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        self._telemetry = telemetry
        disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
        patchers = []
        if "threading" not in disabled:
            patcher = Patcher("threading")
            patcher.patch(threads.TARGETS)
            patchers.append(patcher)
        patchers.extend(_asgi_message_span_skipping())
        for library in settings.instrument:
            instrument_library = _INTEGRATIONS.get(library)
            if instrument_library is None:
                continue
            patcher = Patcher(library)
            patchers.append(patcher)
            try:
                instrument_library(patcher, telemetry)
            except Exception:  # one library's setup failing must not cost the others
                logger.debug("could not instrument %s", library, exc_info=True)
        self._patchers = tuple(patchers)
        if "logging" not in disabled:
            self._log_correlation = LogCorrelation()
            self._log_correlation.enable()
            if LogExportGuard.wanted(os.environ):
                self._log_export_guard = LogExportGuard()
                self._log_export_guard.enable()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._telemetry is not None:
            self._telemetry.enabled = False  # wrappers cached by the app (e.g. with_raw_response) pass through
            self._telemetry = None
        for patcher in self._patchers:
            patcher.unpatch()
        self._patchers = ()
        if self._log_correlation is not None:
            self._log_correlation.disable()
            self._log_correlation = None
        if self._log_export_guard is not None:
            self._log_export_guard.disable()
            self._log_export_guard = None


def _asgi_message_span_skipping() -> list[Patcher]:
    """Where the ASGI instrumentation's message spans are dropped at sampling, its middlewares do not start them."""
    try:
        from .sdk import asgi

        if not asgi.drops_at_sampling():
            return []
        patcher = Patcher("asgi")
        patcher.patch(asgi.MIDDLEWARE_TARGETS)
    except Exception:
        logger.debug("the ASGI middleware is left as it is", exc_info=True)
        return []
    return [patcher]
