"""`jaeger_remote`: sampling strategies fetched from a Jaeger remote-sampling endpoint (`OTEL_TRACES_SAMPLER`).

`OTEL_TRACES_SAMPLER_ARG=endpoint=http://jaeger:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001`
(the names of the OpenTelemetry environment specification; these values are the defaults). A daemon thread asks
`<endpoint>?service=<service.name>` for the service's strategy every polling interval (HTTP, Jaeger's JSON):

- probabilistic: new traces kept with the given probability (by trace id, as `TraceIdRatioBased`);
- rate limiting: at most N new traces per second;
- per operation (what Jaeger's adaptive sampling serves): the root span's name picks a probability; each operation
  also keeps at least `defaultLowerBoundTracesPerSecond` traces per second, as Jaeger's own clients do (the traces
  the probability keeps count against that bound). Operations not listed use the default probability, or, when the
  service's strategy is rate limiting, share its rate limit (Jaeger's Go and Java clients drop that limit when
  operations are listed; a strategies file giving both means both).

Every root span a strategy keeps carries Jaeger's client tags `sampler.type` (`probabilistic`, `lowerbound`,
`ratelimiting`) and `sampler.param` (the probability in force for its operation, or the rate): Jaeger's adaptive
sampling counts only roots that carry them, and stops adapting an operation whose roots show another probability
than the one it serves.

The app never waits for the endpoint: sampling starts at `initialSamplingRate`, the first answer replaces it. When
the endpoint cannot be reached or answers something that is not a strategy, the last good strategy stays (the
initial rate if there was none), one warning is logged until an answer is good again, and polling goes on.
`should_sample` reads the current strategy, an object replaced whole, without taking a lock; rate limiters live
apart from it (`Limiters`), so a new answer keeps their balance. Each process polls on its own: a forked child starts
its own polling thread, with rate limiters of its own.

Parent decisions, the debug header/baggage and `OTEL_KOTAEMON_ALWAYS_SAMPLE` work as in our other samplers
(`KotaemonSampler` wraps this one).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes, AttributeValue

from ..attributes import SAMPLER_PARAM, SAMPLER_TYPE
from ..settings import warn_invalid, without_userinfo
from .sampling import SAMPLER_ARG, RateLimitingSampler, kotaemon_sampler

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:5778/sampling"
DEFAULT_POLLING_INTERVAL_MS = 60_000
DEFAULT_INITIAL_SAMPLING_RATE = 0.001
MAX_OPERATIONS = 2000
"""Operations given their own lower-bound limiter; later ones not listed get only the default probability (as
Jaeger's Go client)."""
FETCH_TIMEOUT_SECONDS = 5.0
_TRACE_ID_LIMIT = (1 << 64) - 1


@dataclass(frozen=True)
class RemoteSamplerConfig:
    """What `OTEL_TRACES_SAMPLER_ARG` sets."""

    endpoint: str = DEFAULT_ENDPOINT
    polling_interval_ms: int = DEFAULT_POLLING_INTERVAL_MS
    initial_sampling_rate: float = DEFAULT_INITIAL_SAMPLING_RATE


def parse_sampler_argument(arg: Any) -> RemoteSamplerConfig:
    """Read `endpoint=...,pollingIntervalMs=...,initialSamplingRate=...`; each bad part: one warning, its default."""
    values: dict[str, Any] = {}
    for part in str(arg or "").split(","):
        if not part.strip():
            continue
        key, sep, raw = (piece.strip() for piece in part.partition("="))
        if key == "endpoint" and sep and raw:
            scheme = urllib.parse.urlsplit(raw).scheme
            if scheme in ("http", "https"):
                values["endpoint"] = raw
                continue
            warn_invalid(SAMPLER_ARG, part.strip(), f"endpoint={DEFAULT_ENDPOINT}", "an http:// or https:// URL")
        elif key == "pollingIntervalMs" and sep:
            try:
                values["polling_interval_ms"] = _positive_int(raw)
            except ValueError:
                warn_invalid(SAMPLER_ARG, part.strip(), f"{key}={DEFAULT_POLLING_INTERVAL_MS}", "a whole number > 0")
        elif key == "initialSamplingRate" and sep:
            try:
                values["initial_sampling_rate"] = _probability(raw)
            except ValueError:
                warn_invalid(
                    SAMPLER_ARG, part.strip(), f"{key}={DEFAULT_INITIAL_SAMPLING_RATE}", "a number from 0 to 1"
                )
        else:
            expected = "endpoint=URL, pollingIntervalMs=N or initialSamplingRate=P, separated by commas"
            warn_invalid(SAMPLER_ARG, part.strip(), "the defaults for it", expected)
    return RemoteSamplerConfig(**values)


def _positive_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _probability(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(raw)
    return value


def _rate(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = float(raw)
    if not 0.0 <= value < float("inf"):
        raise ValueError(raw)
    return value


_KEEP = Decision.RECORD_AND_SAMPLE
Tags = Mapping[str, AttributeValue]
"""`sampler.type` and `sampler.param`, set on every root span a strategy keeps."""


def _tags(sampler_type: str, param: float) -> Tags:
    return MappingProxyType({SAMPLER_TYPE: sampler_type, SAMPLER_PARAM: float(param)})


class Limiters:
    """One sampler's rate limiters by operation (None: the service's), kept across strategy updates: a strategy
    served again, or its operations listed in another order, keeps their balance (Jaeger's clients update theirs in
    place, and Jaeger lists operations in a new order on nearly every answer)."""

    def __init__(self) -> None:
        self._by_key: dict[str | None, RateLimitingSampler] = {}

    def get(self, key: str | None, per_second: float) -> RateLimitingSampler:
        limiter = self._by_key.get(key)
        if limiter is None:
            if len(self._by_key) > MAX_OPERATIONS:
                return RateLimitingSampler(per_second)
            # setdefault: two threads meeting a new name keep one limiter
            return self._by_key.setdefault(key, RateLimitingSampler(per_second))
        if limiter.per_second != per_second:
            limiter.update(per_second)
        return limiter


class Strategy:
    """A sampling decision rule for new traces; `decide` may only update limiter state."""

    description = ""

    def decide(self, trace_id: int, name: str) -> Tags | None:
        """The tags of a kept root span, or None to drop it."""
        raise NotImplementedError


class Probabilistic(Strategy):
    """Keeps a trace when the low 64 bits of its id fall under `rate` (as `TraceIdRatioBased`)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.bound = round(rate * (_TRACE_ID_LIMIT + 1))
        self.tags = _tags("probabilistic", rate)
        self.description = f"probabilistic {rate:g}"

    def decide(self, trace_id: int, name: str) -> Tags | None:
        return self.tags if trace_id & _TRACE_ID_LIMIT < self.bound else None


class RateLimiting(Strategy):
    """Keeps at most `per_second` new traces per second."""

    def __init__(self, per_second: float, limiter: RateLimitingSampler | None = None) -> None:
        self.per_second = per_second
        self.limiter = limiter or RateLimitingSampler(per_second)
        self.tags = _tags("ratelimiting", per_second)
        self.description = f"rate limiting {per_second:g}/s"

    def decide(self, trace_id: int, name: str) -> Tags | None:
        return self.tags if self.limiter._take() else None


class LowerBounded(Strategy):
    """Probabilistic, plus at least `lower_bound` traces per second (Jaeger's guaranteed-throughput sampler): the
    traces the probability keeps count against the lower bound, which keeps more only when they fall short."""

    def __init__(self, rate: float, lower_bound: float, limiter: RateLimitingSampler | None = None) -> None:
        self.rate = rate
        self.bound = round(rate * (_TRACE_ID_LIMIT + 1))
        self.limiter = (limiter or RateLimitingSampler(lower_bound)) if lower_bound > 0 else None
        self.tags = _tags("probabilistic", rate)
        self.lower_bound_tags = _tags("lowerbound", rate)
        self.description = f"probabilistic {rate:g}" + (f" (at least {lower_bound:g}/s)" if lower_bound else "")

    def decide(self, trace_id: int, name: str) -> Tags | None:
        limiter = self.limiter
        if trace_id & _TRACE_ID_LIMIT < self.bound:  # Probabilistic's test, inline: this runs for every new trace
            if limiter is not None:
                limiter._take()
            return self.tags
        if limiter is not None and limiter._take():
            return self.lower_bound_tags
        return None


class PerOperation(Strategy):
    """The root span name picks a strategy; names not listed get the default (each its own lower bound)."""

    def __init__(
        self,
        operations: Mapping[str, float],
        default_rate: float,
        lower_bound: float,
        service_limit: RateLimiting | None = None,
        limiters: Limiters | None = None,
    ) -> None:
        self.default_rate = default_rate
        self.lower_bound = lower_bound
        self.service_limit = service_limit
        self.limiters = limiters or Limiters()
        self.listed = {name: self._lower_bounded(name, rate) for name, rate in operations.items()}
        self._others: dict[str, LowerBounded] = {}
        self._beyond_limit = Probabilistic(default_rate)
        listed = ", ".join(f"{name}: {operations[name]:g}" for name in sorted(operations))
        rest = service_limit.description if service_limit else f"probabilistic {default_rate:g}"
        bound = f", at least {lower_bound:g}/s per operation" if lower_bound else ""
        self.description = f"per operation {{{listed}}}; other operations {rest}{bound}"

    def _lower_bounded(self, name: str, rate: float) -> LowerBounded:
        bound = self.lower_bound
        return LowerBounded(rate, bound, self.limiters.get(name, bound) if bound > 0 else None)

    def decide(self, trace_id: int, name: str) -> Tags | None:
        strategy = self.listed.get(name)
        if strategy is not None:
            return strategy.decide(trace_id, name)
        if self.service_limit is not None:
            return self.service_limit.decide(trace_id, name)
        strategy = self._others.get(name)
        if strategy is None:
            if len(self._others) >= MAX_OPERATIONS:
                return self._beyond_limit.decide(trace_id, name)
            strategy = self._others.setdefault(name, self._lower_bounded(name, self.default_rate))
        return strategy.decide(trace_id, name)


@dataclass(frozen=True)
class StrategyAnswer:
    """A strategy as Jaeger serves it, checked: what `parse_strategy` builds a `Strategy` from."""

    rate_limit: float | None
    """The service's traces per second (a rate-limiting strategy), else None."""
    probability: float
    """The service's probability (per operation: the default probability)."""
    operations: Mapping[str, float] | None
    """Probabilities by operation when the answer has `operationSampling`, else None."""
    lower_bound: float = 0.0

    def build(self, limiters: Limiters | None = None) -> Strategy:
        """The strategy, its rate limiters taken from (and kept in) `limiters`."""
        limiters = limiters or Limiters()
        service = None
        if self.rate_limit is not None:
            service = RateLimiting(self.rate_limit, limiters.get(None, self.rate_limit))
        if self.operations is None:
            return service or Probabilistic(self.probability)
        return PerOperation(self.operations, self.probability, self.lower_bound, service, limiters)


def read_strategy(body: Any) -> StrategyAnswer:
    """Jaeger's JSON answer (enum as a name or a number), checked; ValueError when it is not a strategy.

    An adaptive answer has `operationSampling` and no `probabilisticSampling`: its default probability is the
    service's."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    kind = body.get("strategyType", 0)
    operations = body.get("operationSampling")
    if operations is not None and not isinstance(operations, dict):
        raise ValueError("operationSampling is not an object")
    if kind in ("RATE_LIMITING", 1):
        rate_limit = _rate(_field(body, "rateLimitingSampling", "maxTracesPerSecond"))
        if not operations:
            return StrategyAnswer(rate_limit, 0.0, None)
    elif kind in ("PROBABILISTIC", 0):
        rate_limit = None
        if not operations:
            return StrategyAnswer(None, _probability(_field(body, "probabilisticSampling", "samplingRate")), None)
    else:
        raise ValueError(f"unknown strategyType {kind!r}")
    rates: dict[str, float] = {}
    for entry in operations.get("perOperationStrategies") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("operation"), str):
            raise ValueError(f"bad perOperationStrategies entry {entry!r}")
        rates[entry["operation"]] = _probability(_field(entry, "probabilisticSampling", "samplingRate"))
    return StrategyAnswer(
        rate_limit,
        _probability(operations.get("defaultSamplingProbability", 0.0)),
        rates,
        _rate(operations.get("defaultLowerBoundTracesPerSecond", 0.0)),
    )


def parse_strategy(body: Any, limiters: Limiters | None = None) -> Strategy:
    """A strategy from Jaeger's JSON answer; ValueError when it is not one."""
    return read_strategy(body).build(limiters)


def _field(body: dict[str, Any], section: str, name: str) -> Any:
    part = body.get(section)
    if not isinstance(part, dict) or name not in part:
        raise ValueError(f"{section}.{name} missing")
    return part[name]


def service_name(env: Mapping[str, str] | None = None) -> str:
    """The service name the strategies are asked for: OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES."""
    env = os.environ if env is None else env
    name = (env.get("OTEL_SERVICE_NAME") or "").strip()
    if name:
        return name
    for item in (env.get("OTEL_RESOURCE_ATTRIBUTES") or "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return urllib.parse.unquote(value.strip())
    return "unknown_service"


@dataclass(frozen=True)
class RemoteStatus:
    """What the sampler uses now and how its last refresh went."""

    strategy: str
    refreshed_at: float | None
    """Wall-clock time of the last good answer (None: none yet, the initial rate applies)."""
    problem: str | None
    """Why the last refresh failed, or None."""
    failed_refreshes: int = 0
    """Refreshes failed in a row."""


class JaegerRemoteSampler(Sampler):  # type: ignore[misc]
    """Samples new traces with the strategy last fetched from Jaeger; see the module docstring."""

    def __init__(self, config: RemoteSamplerConfig, service: str, start: bool = True) -> None:
        self.config = config
        self.service = service
        # urllib cannot send a URL's `user:password@` (it fails on it); without it, no message can show it
        self.url = without_userinfo(f"{config.endpoint}?{urllib.parse.urlencode({'service': service})}")
        self._strategy: Strategy = Probabilistic(config.initial_sampling_rate)
        self._limiters = Limiters()
        self._refreshed_at: float | None = None
        self._problem: str | None = None
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self.start()
            if hasattr(os, "register_at_fork"):  # a forked worker gets its own poller
                os.register_at_fork(after_in_child=self._restart_in_child)

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
        tags = self._strategy.decide(trace_id, name)
        if tags is None:
            return SamplingResult(Decision.DROP, None, trace_state)
        return SamplingResult(_KEEP, {**attributes, **tags} if attributes else tags, trace_state)

    def get_description(self) -> str:
        return f"JaegerRemoteSampler{{{self._strategy.description}}}"

    def status(self) -> RemoteStatus:
        return RemoteStatus(self._strategy.description, self._refreshed_at, self._problem, self._failures)

    def start(self) -> None:
        """Start polling in a daemon thread (the first request goes out at once)."""
        self._thread = threading.Thread(target=self._poll, name="jaeger-remote-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _restart_in_child(self) -> None:
        """After a fork: the child's own polling thread (its rate limiters are reset by `sampling`)."""
        if self._thread is not None and not self._stop.is_set():
            self._stop = threading.Event()
            self.start()

    def _poll(self) -> None:
        stop = self._stop
        while True:
            self.refresh()
            if stop.wait(self.config.polling_interval_ms / 1000.0):
                return

    def refresh(self) -> bool:
        """Fetch the strategy once and use it; on failure keep the current one (one warning per failing spell)."""
        try:
            with urllib.request.urlopen(self.url, timeout=FETCH_TIMEOUT_SECONDS) as response:
                payload = response.read()
        except Exception as error:  # an unreachable endpoint must never reach the app
            return self._failed(f"cannot reach {self.url}: {error}")
        try:
            strategy = parse_strategy(json.loads(payload), self._limiters)
        except (ValueError, TypeError, OverflowError) as error:
            return self._failed(f"{self.url} answered something that is not a sampling strategy ({error})")
        if self._problem is not None:
            logger.warning("jaeger_remote: %s answers again; sampling %s", self.url, strategy.description)
        if strategy.description != self._strategy.description:
            self._strategy = strategy  # one reference swap: readers see the old or the new strategy, never a mix
        self._refreshed_at = time.time()
        self._problem = None
        self._failures = 0
        return True

    def _failed(self, problem: str) -> bool:
        if self._problem is None:
            logger.warning("jaeger_remote: %s; keeping %s and trying again", problem, self._strategy.description)
        self._problem = problem
        self._failures += 1
        return False


def jaeger_remote_sampler(arg: Any = None) -> Sampler:
    """Entry points `jaeger_remote` and `parentbased_jaeger_remote` (group `opentelemetry_traces_sampler`).

    The specification names the bare remote sampler `jaeger_remote` and the one behind `ParentBased`
    `parentbased_jaeger_remote`. Both give this one, which follows the parent's decision: deciding every span by the
    probability of its own name would cut traces apart (OpenTelemetry Java's `JaegerRemoteSampler` is parent-based
    too)."""
    return kotaemon_sampler(JaegerRemoteSampler(parse_sampler_argument(arg), service_name()))
