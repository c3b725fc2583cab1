"""Samplers the Python SDK lacks, chosen with `OTEL_TRACES_SAMPLER` (entry point group `opentelemetry_traces_sampler`).

- `kotaemon_ratelimit`: new traces are kept at most `OTEL_TRACES_SAMPLER_ARG` times per second (default 10).
- `kotaemon_ratio`: new traces are kept with probability `OTEL_TRACES_SAMPLER_ARG` (default 1.0).

Both follow the decision of a parent span (local or from an incoming request). Both always keep a root span whose
name matches `OTEL_KOTAEMON_ALWAYS_SAMPLE` (the operator's choice), and keep a new trace a client asks for (W3C
baggage `kotaemon.debug=true`, an `X-Debug-Tracing: true` request header) within a budget of its own,
`OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND` per process, in bursts of up to ten seconds' worth: any client can send them,
so beyond it they are sampled like the rest (one warning says so).

Rate-limiter state belongs to each process: a forked child starts with full buckets and locks of its own.

The ASGI instrumentation (FastAPI, Starlette; 0.48b0 to 0.66b at least) records captured request headers only on
spans already sampled, too late for a sampler; it does extract the incoming context with the global propagator before
the server span starts, as HTTP server instrumentations do. `DebugHeaderPropagator`, added to that propagator, notes
the header in the context there.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import baggage, propagate
from opentelemetry.context import Context, create_key, get_current, get_value, set_value
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ..settings import (
    ALWAYS_SAMPLE,
    DEBUG_TRACES_PER_SECOND,
    DEFAULT_DEBUG_TRACES_PER_SECOND,
    TRUE_VALUES,
    warn_invalid,
)

logger = logging.getLogger(__name__)

DEBUG_BAGGAGE_KEY = "kotaemon.debug"
DEBUG_HEADER = "x-debug-tracing"
DEBUG_HEADER_ATTRIBUTE = "http.request.header.x_debug_tracing"
"""Where HTTP server instrumentations put a captured `X-Debug-Tracing` request header."""
_DEBUG_HEADER_SEEN = create_key("kotaemon-debug-header")
SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
DEBUG_BURST_SECONDS = 10.0
"""The debug budget's bucket holds this many seconds of its rate: one debugged request may start a burst of traces
(a question in Kotaemon's web app starts a dozen: its HTTP requests and Gradio events)."""


_LIMITERS: weakref.WeakSet[RateLimitingSampler] = weakref.WeakSet()
_fork_hook_registered = False


def _reset_in_forked_children(limiter: RateLimitingSampler) -> None:
    global _fork_hook_registered
    if not hasattr(os, "register_at_fork"):
        return
    _LIMITERS.add(limiter)
    if not _fork_hook_registered:  # once, with the first limiter: importing this module registers nothing
        _fork_hook_registered = True
        os.register_at_fork(after_in_child=_reset_limiters)


def _reset_limiters() -> None:
    for limiter in list(_LIMITERS):
        limiter._reset()


class RateLimitingSampler(Sampler):  # type: ignore[misc]
    """Keeps at most `per_second` new traces per second: a token bucket holding `burst` seconds of tokens, at least
    one (with the default of one second, Jaeger's clients' rate limiter)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic, burst: float = 1.0) -> None:
        self.per_second = per_second
        self.burst = burst
        self._capacity = max(1.0, per_second * burst)
        self._clock = clock
        self._reset()
        _reset_in_forked_children(self)

    def _reset(self) -> None:
        """A full bucket and a lock of its own (a new process's state)."""
        self._tokens = self._capacity
        self._last = self._clock()
        self._lock = threading.Lock()

    def update(self, per_second: float) -> None:
        """Change the rate in place, keeping the balance (scaled to the new capacity), as Jaeger's clients do: a
        strategy that is served again does not refill the bucket."""
        with self._lock:
            self._refill()
            capacity = max(1.0, per_second * self.burst)
            self._tokens *= capacity / self._capacity
            self._capacity, self.per_second = capacity, per_second

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.per_second)
        self._last = now

    def _take(self) -> bool:
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

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
        if self._take():
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
        return SamplingResult(Decision.DROP, None, trace_state)

    def get_description(self) -> str:
        return f"RateLimitingSampler{{{self.per_second}/s}}"


class KotaemonSampler(Sampler):  # type: ignore[misc]
    """Follows the parent's decision; for new traces keeps always-sample names and, within their budget, traces a
    client forces, then asks `root`."""

    def __init__(
        self,
        root: Sampler,
        always_sample: Sequence[str] = (),
        debug_per_second: float = DEFAULT_DEBUG_TRACES_PER_SECOND,
    ) -> None:
        self.root = root
        self.always_sample = tuple(always_sample)
        self.debug_budget = (
            RateLimitingSampler(debug_per_second, burst=DEBUG_BURST_SECONDS) if debug_per_second > 0 else None
        )
        self._over_budget_warned = False

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
        context = get_current() if parent_context is None else parent_context
        parent = get_current_span(context).get_span_context()
        if not parent.is_valid:
            if self._forced(context, name, attributes):
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
            return self.root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        sampled = parent.trace_flags.sampled
        if not sampled and parent.is_remote and self._forced(context, name, attributes):
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, parent.trace_state)
        decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
        return SamplingResult(decision, attributes if sampled else None, parent.trace_state)

    def _forced(self, context: Context, name: str, attributes: Attributes) -> bool:
        if self.always_sample and any(fnmatch.fnmatchcase(name, pattern) for pattern in self.always_sample):
            return True
        if not self._asked_for(context, attributes):
            return False
        if self.debug_budget is not None and self.debug_budget._take():
            return True
        if not self._over_budget_warned:
            self._over_budget_warned = True
            logger.warning(
                "More than %s new traces per second asked to be traced (debug header or kotaemon.debug baggage): "
                "the rest are sampled like any other trace (%s sets the budget)",
                f"{self.debug_budget.per_second:g}" if self.debug_budget else "0",
                DEBUG_TRACES_PER_SECOND.variable,
            )
        return False

    @staticmethod
    def _asked_for(context: Context, attributes: Attributes) -> bool:
        """Whether a client asked for this trace: the debug header's mark or `kotaemon.debug` baggage."""
        if context:  # an empty context (most new traces) holds neither baggage nor the header's mark
            if get_value(_DEBUG_HEADER_SEEN, context):
                return True
            flag = baggage.get_baggage(DEBUG_BAGGAGE_KEY, context)
            if flag is not None and str(flag).lower() in TRUE_VALUES:
                return True
        return attributes is not None and _asks_for_debug(attributes.get(DEBUG_HEADER_ATTRIBUTE))

    def get_description(self) -> str:
        return f"KotaemonSampler{{root={self.root.get_description()}, always={list(self.always_sample)}}}"


def _asks_for_debug(values: Any) -> bool:
    values = values if isinstance(values, (list, tuple)) else (values,)
    return any(str(v).strip().lower() in TRUE_VALUES for v in values if v is not None)


class DebugHeaderPropagator(TextMapPropagator):  # type: ignore[misc]
    """Notes an incoming `X-Debug-Tracing: true` header in the extracted context, for our samplers; sends nothing."""

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        context = get_current() if context is None else context
        try:
            asked = _asks_for_debug(getter.get(carrier, DEBUG_HEADER))
        except Exception:  # an odd carrier must never fail the request
            return context
        return set_value(_DEBUG_HEADER_SEEN, True, context) if asked else context

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        """The header is the caller's request for this service only: it is not passed on."""

    @property
    def fields(self) -> set[str]:
        return set()


def read_debug_header() -> None:
    """`opentelemetry_post_instrument` hook: add `DebugHeaderPropagator` to the global propagator (kept as it is)."""
    current = propagate.get_global_textmap()
    inner = getattr(current, "_propagators", ())
    if any(isinstance(p, DebugHeaderPropagator) for p in inner):
        return
    propagate.set_global_textmap(CompositePropagator([current, DebugHeaderPropagator()]))


def _argument(arg: Any, default: float, maximum: float | None) -> float:
    if arg is None or not str(arg).strip():
        return default
    try:
        value = float(arg)
    except ValueError:
        value = -1.0
    if value < 0 or (maximum is not None and value > maximum):
        expected = f"a number from 0 to {maximum}" if maximum is not None else "a number >= 0"
        warn_invalid(SAMPLER_ARG, str(arg), str(default), expected)
        return default
    return value


def kotaemon_sampler(root: Sampler) -> KotaemonSampler:
    """`root` for new traces, wrapped as every sampler of ours: parents followed, always-sample names from
    `OTEL_KOTAEMON_ALWAYS_SAMPLE`, the debug budget from `OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND`."""
    env = os.environ
    return KotaemonSampler(
        root,
        ALWAYS_SAMPLE.read(env),
        DEBUG_TRACES_PER_SECOND.read(env),
    )


def rate_limit_sampler(arg: Any = None) -> Sampler:
    """Entry point `kotaemon_ratelimit`: `arg` is new traces per second (default 10)."""
    return kotaemon_sampler(RateLimitingSampler(_argument(arg, 10.0, None)))


def ratio_sampler(arg: Any = None) -> Sampler:
    """Entry point `kotaemon_ratio`: `arg` is the share of new traces kept (default 1.0)."""
    return kotaemon_sampler(TraceIdRatioBased(_argument(arg, 1.0, 1.0)))
