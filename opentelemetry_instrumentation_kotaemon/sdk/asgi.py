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
  There the middleware also still wraps every `receive` in a span that the sampler drops (Gradio's answer stream asks
  for one every few messages, to see whether the browser left): `RECEIVE_TARGETS`, wrapped by the Kotaemon
  instrumentor (and removed by its `uninstrument()`), have it call the server's `receive` itself whenever that span
  would be dropped, and no `client_request_hook` would see it.

The FastAPI instrumentation is also given the hook that links Gradio's data requests to their events (`gradio.streams`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from inspect import signature
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
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


def _receive_unless_recorded(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """`_get_otel_receive(server_span_name, scope, receive)`: its wrapper, or one that skips it when its span would be
    dropped by `DropAsgiMessageSpans` (the current span is an ASGI server span)."""
    otel_receive = wrapped(*args, **kwargs)
    receive = args[2] if len(args) > 2 else kwargs.get("receive")
    sampler = getattr(getattr(instance, "tracer", None), "sampler", None)
    hook = getattr(instance, "client_request_hook", None)
    if receive is None or callable(hook) or not isinstance(sampler, DropAsgiMessageSpans):
        return otel_receive

    async def receive_unless_recorded() -> Any:
        if _is_asgi_server_span(get_current_span()):
            return await receive()
        return await otel_receive()

    return receive_unless_recorded


RECEIVE_TARGETS = [
    Target("opentelemetry.instrumentation.asgi", "OpenTelemetryMiddleware._get_otel_receive", _receive_unless_recorded)
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
