"""The ASGI instrumentation's message spans (`GET /queue/data http send`, `... http receive`): not made by default.

The FastAPI instrumentation (through the ASGI one) makes a span for every ASGI message of a request, a child of its
server span: a Gradio answer streamed over `GET /queue/data` makes hundreds per question, most of a trace's spans and
of its cost. `OTEL_KOTAEMON_ASGI_MESSAGE_SPANS=true` keeps them; otherwise:

- releases with the option (0.49b0 and later) are given `exclude_spans=["receive", "send"]` when
  `opentelemetry-instrument` loads them (`instrumentor_options`, called by the distro);
- older ones (0.48b0, Kotaemon's lock) lack it: `DropAsgiMessageSpans`, around the tracer provider's sampler, drops
  them when they start, so they are never built. Only INTERNAL spans named `... http send` / `... http receive` whose
  parent is a server span of the ASGI, FastAPI or Starlette instrumentation; every other span is the inner sampler's.
  A dropped span is a non-recording one in the same trace: its parent and the spans after it are kept.
  There the middleware would still start each of them (one for every message of Gradio's answer stream) for the
  sampler to drop: `MIDDLEWARE_TARGETS`, wrapped by the Kotaemon instrumentor (and removed by its `uninstrument()`),
  give each middleware made while instrumented a tracer (`SkipDroppedMessageSpans`) that does not start the spans the
  sampler would drop, and no hook would see (a middleware with a `client_request_hook` starts its receive spans, one
  with a `client_response_hook` its send spans); the message is received or sent as it was, under the request's
  server span.

The FastAPI instrumentation is also given the hook that links Gradio's data requests to their events (`gradio.streams`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from importlib import metadata
from inspect import signature
from typing import Any

import wrapt
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import INVALID_SPAN, Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ..patching import Target
from ..settings import ASGI_MESSAGE_SPANS

logger = logging.getLogger(__name__)

ASGI_SCOPES = frozenset(
    {
        "opentelemetry.instrumentation.asgi",
        "opentelemetry.instrumentation.fastapi",
        "opentelemetry.instrumentation.starlette",
    }
)
"""The instrumentation scopes whose tracers make ASGI server spans (FastAPI and Starlette pass their own)."""
MESSAGE_SPAN_SUFFIXES = (" http send", " http receive")
EXCLUDED_MESSAGE_SPANS = ["receive", "send"]
FIRST_RELEASE_WITH_OPTION = (0, 49)
"""`exclude_spans` came with opentelemetry-instrumentation-asgi and -fastapi 0.49b0."""
_RELEASE = re.compile(r"(\d+)\.(\d+)")


class DropAsgiMessageSpans(Sampler):  # type: ignore[misc]
    """Drops the ASGI instrumentation's message spans; asks `inner` about every other span."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.INTERNAL and name.endswith(MESSAGE_SPAN_SUFFIXES):
            parent = get_current_span(parent_context)
            if _is_asgi_server_span(parent):
                return SamplingResult(Decision.DROP, None, parent.get_span_context().trace_state)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"DropAsgiMessageSpans{{{self.inner.get_description()}}}"


class SkipDroppedMessageSpans(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """A middleware's tracer that hands out no span for a message span (names ending in `suffixes`) that
    `DropAsgiMessageSpans` would drop; every other call goes to the tracer as it is."""

    def __init__(self, tracer: Any, suffixes: tuple[str, ...]) -> None:
        super().__init__(tracer)
        self._self_suffixes = suffixes

    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if (
            not args
            and not kwargs
            and name.endswith(self._self_suffixes)
            and isinstance(getattr(self.__wrapped__, "sampler", None), DropAsgiMessageSpans)
            and _is_asgi_server_span(get_current_span())
        ):
            return _NO_SPAN
        return self.__wrapped__.start_as_current_span(name, *args, **kwargs)


_NO_SPAN = nullcontext(INVALID_SPAN)
"""What `SkipDroppedMessageSpans` hands out instead of a dropped span: the current span stays the server span."""
_HOOKS = ((" http receive", "client_request_hook"), (" http send", "client_response_hook"))
"""Each message span, and the middleware's hook that is given it."""


def _with_skipping_tracer(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """`OpenTelemetryMiddleware.__init__`: then its tracer skips the message spans that no hook of it is given."""
    result = wrapped(*args, **kwargs)
    try:
        tracer = getattr(instance, "tracer", None)
        suffixes = tuple(suffix for suffix, hook in _HOOKS if not callable(getattr(instance, hook, None)))
        if tracer is not None and suffixes and not isinstance(tracer, SkipDroppedMessageSpans):
            instance.tracer = SkipDroppedMessageSpans(tracer, suffixes)
    except Exception:
        logger.debug("the ASGI middleware's tracer is left as it is", exc_info=True)
    return result


MIDDLEWARE_TARGETS = [
    Target("opentelemetry.instrumentation.asgi", "OpenTelemetryMiddleware.__init__", _with_skipping_tracer)
]
"""Wrapped where message spans are dropped at sampling (`drops_at_sampling`)."""


def _is_asgi_server_span(span: Any) -> bool:
    if getattr(span, "kind", None) is not SpanKind.SERVER:
        return False
    scope = getattr(span, "instrumentation_scope", None)
    return getattr(scope, "name", None) in ASGI_SCOPES


def _release(distribution: str) -> tuple[int, int] | None:
    try:
        found = _RELEASE.match(metadata.version(distribution))
    except metadata.PackageNotFoundError:
        return None
    return (int(found.group(1)), int(found.group(2))) if found else None


def drops_at_sampling(env: Mapping[str, str] | None = None) -> bool:
    """Whether message spans must be dropped by the sampler: wanted gone, and the installed ASGI instrumentation has no
    option for it."""
    if ASGI_MESSAGE_SPANS.read(os.environ if env is None else env):
        return False
    release = _release("opentelemetry-instrumentation-asgi")
    return release is not None and release < FIRST_RELEASE_WITH_OPTION


def drop_message_spans(provider: Any) -> None:
    """Put `DropAsgiMessageSpans` around the SDK tracer provider's sampler, when needed (before tracers are made)."""
    if not drops_at_sampling():
        return
    sampler = getattr(provider, "sampler", None)
    if isinstance(sampler, Sampler) and not isinstance(sampler, DropAsgiMessageSpans):
        provider.sampler = DropAsgiMessageSpans(sampler)


def instrumentor_options(name: str, instrumentor: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options `opentelemetry-instrument` gives the instrumentor of entry point `name`: for FastAPI, no message
    spans where it has the option (unless wanted), and the hook that notes Gradio's data requests."""
    if name != "fastapi":
        return kwargs
    try:
        parameters = signature(instrumentor.instrument_app).parameters
    except (AttributeError, TypeError, ValueError):
        return kwargs
    options = dict(kwargs)
    if "exclude_spans" in parameters and not ASGI_MESSAGE_SPANS.read(os.environ):
        options.setdefault("exclude_spans", list(EXCLUDED_MESSAGE_SPANS))
    if "server_request_hook" in parameters and "server_request_hook" not in options:
        from ..gradio.streams import DATA_STREAMS

        options["server_request_hook"] = DATA_STREAMS.request_started
    return options
