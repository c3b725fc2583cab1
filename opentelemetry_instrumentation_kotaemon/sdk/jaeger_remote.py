"""`jaeger_remote`: sampling strategies fetched from a Jaeger remote-sampling endpoint (`OTEL_TRACES_SAMPLER`).

`OTEL_TRACES_SAMPLER_ARG=endpoint=http://jaeger:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001`
(the names of the OpenTelemetry environment specification; these values are the defaults). A daemon thread asks
`<endpoint>?service=<service.name>` for the service's strategy every polling interval (HTTP, Jaeger's JSON):

- probabilistic: new traces kept with the given probability (by trace id, as `TraceIdRatioBased`);
- rate limiting: at most N new traces per second;
- per operation: the root span's name picks a probability; each operation also keeps at least
  `defaultLowerBoundTracesPerSecond` traces per second, as Jaeger's own clients do. Operations not listed use the
  default probability, or, when the service's strategy is rate limiting, share its rate limit (Jaeger's Go and Java
  clients drop that limit when operations are listed; a strategies file giving both means both).

The app never waits for the endpoint: sampling starts at `initialSamplingRate`, the first answer replaces it. When
the endpoint cannot be reached or answers something that is not a strategy, the last good strategy stays (the
initial rate if there was none), one warning is logged until an answer is good again, and polling goes on.
`should_sample` reads the current strategy, an immutable object replaced whole, without taking a lock.

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
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ..settings import ALWAYS_SAMPLE, warn_invalid, without_userinfo
from .sampling import SAMPLER_ARG, KotaemonSampler, RateLimitingSampler

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:5778/sampling"
DEFAULT_POLLING_INTERVAL_MS = 60_000
DEFAULT_INITIAL_SAMPLING_RATE = 0.001
MAX_OPERATIONS = 2000
"""Operations given their own lower-bound limiter; later ones get only the default probability (as Jaeger's Go
client)."""
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


class Strategy:
    """An immutable sampling decision rule for new traces; `decide` may only update limiter state."""

    description = ""

    def decide(self, trace_id: int, name: str) -> bool:
        raise NotImplementedError


class Probabilistic(Strategy):
    """Keeps a trace when the low 64 bits of its id fall under `rate` (as `TraceIdRatioBased`)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.bound = round(rate * (_TRACE_ID_LIMIT + 1))
        self.description = f"probabilistic {rate:g}"

    def decide(self, trace_id: int, name: str) -> bool:
        return trace_id & _TRACE_ID_LIMIT < self.bound


class RateLimiting(Strategy):
    """Keeps at most `per_second` new traces per second."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.limiter = RateLimitingSampler(per_second)
        self.description = f"rate limiting {per_second:g}/s"

    def decide(self, trace_id: int, name: str) -> bool:
        return self.limiter._take()


class LowerBounded(Strategy):
    """Probabilistic, plus at least `lower_bound` traces per second (Jaeger's guaranteed-throughput sampler)."""

    def __init__(self, rate: float, lower_bound: float) -> None:
        self.bound = Probabilistic(rate).bound
        self.limiter = RateLimitingSampler(lower_bound) if lower_bound > 0 else None
        self.description = f"probabilistic {rate:g}" + (f" (at least {lower_bound:g}/s)" if lower_bound else "")

    def decide(self, trace_id: int, name: str) -> bool:
        if trace_id & _TRACE_ID_LIMIT < self.bound:  # Probabilistic's test, inline: this runs for every new trace
            return True
        return self.limiter is not None and self.limiter._take()


class PerOperation(Strategy):
    """The root span name picks a strategy; names not listed get the default (each its own lower bound)."""

    def __init__(
        self,
        operations: Mapping[str, float],
        default_rate: float,
        lower_bound: float,
        service_limit: RateLimiting | None = None,
    ) -> None:
        self.default_rate = default_rate
        self.lower_bound = lower_bound
        self.service_limit = service_limit
        self.listed = {name: LowerBounded(rate, lower_bound) for name, rate in operations.items()}
        self._others: dict[str, LowerBounded] = {}
        self._beyond_limit = Probabilistic(default_rate)
        listed = ", ".join(f"{name}: {rate:g}" for name, rate in operations.items())
        rest = service_limit.description if service_limit else f"probabilistic {default_rate:g}"
        bound = f", at least {lower_bound:g}/s per operation" if lower_bound else ""
        self.description = f"per operation {{{listed}}}; other operations {rest}{bound}"

    def decide(self, trace_id: int, name: str) -> bool:
        strategy = self.listed.get(name)
        if strategy is not None:
            return strategy.decide(trace_id, name)
        if self.service_limit is not None:
            return self.service_limit.decide(trace_id, name)
        strategy = self._others.get(name)
        if strategy is None:
            if len(self._others) >= MAX_OPERATIONS:
                return self._beyond_limit.decide(trace_id, name)
            # setdefault: two threads meeting a new name keep one limiter
            strategy = self._others.setdefault(name, LowerBounded(self.default_rate, self.lower_bound))
        return strategy.decide(trace_id, name)


def parse_strategy(body: Any) -> Strategy:
    """A strategy from Jaeger's JSON answer (enum as a name or a number); ValueError when it is not one."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    kind = body.get("strategyType", 0)
    operations = body.get("operationSampling")
    service: Strategy
    if kind in ("RATE_LIMITING", 1):
        service = RateLimiting(_rate(_field(body, "rateLimitingSampling", "maxTracesPerSecond")))
    elif kind in ("PROBABILISTIC", 0):
        service = Probabilistic(_probability(_field(body, "probabilisticSampling", "samplingRate")))
    else:
        raise ValueError(f"unknown strategyType {kind!r}")
    if not operations:
        return service
    if not isinstance(operations, dict):
        raise ValueError("operationSampling is not an object")
    rates: dict[str, float] = {}
    for entry in operations.get("perOperationStrategies") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("operation"), str):
            raise ValueError(f"bad perOperationStrategies entry {entry!r}")
        rates[entry["operation"]] = _probability(_field(entry, "probabilisticSampling", "samplingRate"))
    return PerOperation(
        rates,
        default_rate=_probability(operations.get("defaultSamplingProbability", 0.0)),
        lower_bound=_rate(operations.get("defaultLowerBoundTracesPerSecond", 0.0)),
        service_limit=service if isinstance(service, RateLimiting) else None,
    )


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
        if self._strategy.decide(trace_id, name):
            return SamplingResult(_KEEP, attributes, trace_state)
        return SamplingResult(Decision.DROP, None, trace_state)

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
            strategy = parse_strategy(json.loads(payload))
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
    """Entry point `jaeger_remote` (group `opentelemetry_traces_sampler`)."""
    always = ALWAYS_SAMPLE.read(os.environ)
    return KotaemonSampler(JaegerRemoteSampler(parse_sampler_argument(arg), service_name()), always)
