"""Hooks `opentelemetry-instrument` runs once every instrumentation is loaded (entry point group
`opentelemetry_post_instrument`)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any


def keep_child_processes_instrumented() -> None:
    """`opentelemetry_post_instrument` hook: launchers before 0.50b0 take their own directory out of `PYTHONPATH`
    for good, so child Python processes (multiprocessing spawn workers, `uvicorn --workers`, subprocesses) run
    uninstrumented; put it back, as newer launchers do once their setup is over."""
    import opentelemetry.instrumentation.auto_instrumentation as launcher

    directory = os.path.dirname(os.path.abspath(launcher.__file__))
    if directory not in sys.path:  # not started by opentelemetry-instrument
        return
    parts = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    if directory not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([directory, *parts])


def flush_before_uvicorn_stops() -> None:
    """`opentelemetry_post_instrument` hook: uvicorn (0.29+) ends its graceful shutdown on SIGTERM by raising the
    signal again with its default action, which kills the process before the exit hooks that export what the SDK
    still buffers (each `--workers` process is stopped that way, even on Ctrl+C); export it first."""
    from .. import patching

    patching.when_imported("uvicorn.server", _flush_before_reraise)


def _flush_before_reraise(module: Any) -> None:
    import wrapt

    server = getattr(module, "Server", None)
    if server is None or not hasattr(server, "capture_signals"):
        return
    try:
        wrapt.wrap_function_wrapper(server, "capture_signals", _capture_signals_then_flush)
    except Exception:  # runs inside the app's `import uvicorn`, which must never fail because of us
        logging.getLogger(__name__).debug("could not wrap uvicorn's Server.capture_signals", exc_info=True)


class _FlushOnSignalExit:
    """uvicorn's `capture_signals()` context, which exports buffered telemetry before it re-raises a signal."""

    def __init__(self, inner: Any, server: Any) -> None:
        self._inner = inner
        self._server = server

    def __enter__(self) -> Any:
        return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        # Ctrl+C is raised again as KeyboardInterrupt, after which the exit hooks do export
        if any(sig != signal.SIGINT for sig in getattr(self._server, "_captured_signals", ())):
            force_flush_providers()
        return self._inner.__exit__(*exc)


def _capture_signals_then_flush(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _FlushOnSignalExit(wrapped(*args, **kwargs), instance)


FLUSH_TIMEOUT_MILLIS = 5000
"""Longest wait for each provider's flush before uvicorn ends the process (exports themselves time out sooner)."""


def force_flush_providers() -> None:
    """Export what the global tracer, meter and logger providers buffer; never raises."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), get_logger_provider()):
        try:
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush(timeout_millis=FLUSH_TIMEOUT_MILLIS)
        except Exception:
            logging.getLogger(__name__).debug("could not flush %r", provider, exc_info=True)
