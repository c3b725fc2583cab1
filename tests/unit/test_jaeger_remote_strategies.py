"""`jaeger_remote`: reading OTEL_TRACES_SAMPLER_ARG and Jaeger's strategy answers, and the decisions they give."""

from __future__ import annotations

import logging
import random

import pytest
from opentelemetry import baggage
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from opentelemetry_instrumentation_kotaemon import settings
from opentelemetry_instrumentation_kotaemon.sdk.jaeger_remote import (
    DEFAULT_ENDPOINT,
    JaegerRemoteSampler,
    Limiters,
    LowerBounded,
    PerOperation,
    Probabilistic,
    RateLimiting,
    RemoteSamplerConfig,
    Strategy,
    parse_sampler_argument,
    parse_strategy,
    service_name,
)
from opentelemetry_instrumentation_kotaemon.sdk.sampling import KotaemonSampler, RateLimitingSampler


def kept(strategy: Strategy, trace_id: int, name: str = "x") -> bool:
    return strategy.decide(trace_id, name) is not None


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "_warned", set())


def test_argument_defaults_and_values() -> None:
    assert parse_sampler_argument(None) == RemoteSamplerConfig(DEFAULT_ENDPOINT, 60_000, 0.001)
    assert parse_sampler_argument(
        " endpoint=http://jaeger:5778/sampling , pollingIntervalMs=250,initialSamplingRate=0.5"
    ) == RemoteSamplerConfig("http://jaeger:5778/sampling", 250, 0.5)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("pollingIntervalMs=soon", RemoteSamplerConfig()),
        ("pollingIntervalMs=0,initialSamplingRate=0.2", RemoteSamplerConfig(initial_sampling_rate=0.2)),
        ("initialSamplingRate=1.5", RemoteSamplerConfig()),
        ("initialSamplingRate=nan", RemoteSamplerConfig()),
        ("endpoint=jaeger:5778", RemoteSamplerConfig()),
        ("pollingInterval=5", RemoteSamplerConfig()),
        ("0.5", RemoteSamplerConfig()),
    ],
)
def test_bad_argument_parts_warn_once_and_use_defaults(
    arg: str, expected: RemoteSamplerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert parse_sampler_argument(arg) == expected
    assert parse_sampler_argument(arg) == expected
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert "OTEL_TRACES_SAMPLER_ARG" in messages[0] and "instead" in messages[0]


def test_service_name_comes_from_the_standard_variables() -> None:
    assert service_name({"OTEL_SERVICE_NAME": "rag", "OTEL_RESOURCE_ATTRIBUTES": "service.name=x"}) == "rag"
    assert service_name({"OTEL_RESOURCE_ATTRIBUTES": "a=b, service.name=rag%20app"}) == "rag app"
    assert service_name({}) == "unknown_service"


def test_probabilistic_answer_by_name_or_number() -> None:
    for kind in ("PROBABILISTIC", 0):
        strategy = parse_strategy({"strategyType": kind, "probabilisticSampling": {"samplingRate": 0.25}})
        assert isinstance(strategy, Probabilistic) and strategy.rate == 0.25


def test_probabilistic_decides_as_trace_id_ratio_based() -> None:
    strategy, reference = Probabilistic(0.3), TraceIdRatioBased(0.3)
    ids = [random.getrandbits(128) for _ in range(5000)]
    decisions = [kept(strategy, i) for i in ids]
    assert decisions == [reference.should_sample(None, i, "x").decision is Decision.RECORD_AND_SAMPLE for i in ids]
    assert 0.25 < sum(decisions) / len(decisions) < 0.35


def test_rate_limiting_answer() -> None:
    strategy = parse_strategy({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 3}})
    assert isinstance(strategy, RateLimiting) and strategy.per_second == 3
    assert [kept(strategy, 1) for _ in range(5)] == [True, True, True, False, False]


def test_lower_bound_keeps_traces_the_probability_would_drop() -> None:
    strategy = LowerBounded(0.0, 2)
    assert [kept(strategy, 1) for _ in range(4)] == [True, True, False, False]
    assert not any(kept(LowerBounded(0.0, 0), 1) for _ in range(3))


def test_per_operation_answer_as_jaeger_serves_a_probabilistic_service() -> None:
    strategy = parse_strategy(
        {
            "strategyType": 0,
            "probabilisticSampling": {"samplingRate": 0.0},
            "operationSampling": {
                "defaultSamplingProbability": 0.0,
                "defaultLowerBoundTracesPerSecond": 1,
                "perOperationStrategies": [{"operation": "sensitive", "probabilisticSampling": {"samplingRate": 1}}],
            },
        }
    )
    assert isinstance(strategy, PerOperation)
    assert all(kept(strategy, random.getrandbits(128), "sensitive") for _ in range(100))
    # every other operation: probability 0, but at least one trace per second each
    assert [kept(strategy, 5, "search") for _ in range(3)] == [True, False, False]
    assert [kept(strategy, 5, "index") for _ in range(3)] == [True, False, False]
    assert "sensitive: 1" in strategy.description


def test_per_operation_beside_a_rate_limited_service() -> None:
    strategy = parse_strategy(
        {
            "strategyType": "RATE_LIMITING",
            "rateLimitingSampling": {"maxTracesPerSecond": 2},
            "operationSampling": {
                "defaultSamplingProbability": 0.001,
                "perOperationStrategies": [{"operation": "sensitive", "probabilisticSampling": {"samplingRate": 1}}],
            },
        }
    )
    assert isinstance(strategy, PerOperation)
    # the two operations not listed share the service's limit; the listed one is always kept
    assert [kept(strategy, 5, name) for name in ("a", "b", "a", "b")] == [True, True, False, False]
    assert all(kept(strategy, 5, "sensitive") for _ in range(50))
    assert "rate limiting 2/s" in strategy.description


@pytest.mark.parametrize(
    "body",
    [
        [],
        "probabilistic",
        {"strategyType": 7},
        {"strategyType": 0},
        {"strategyType": 0, "probabilisticSampling": {"samplingRate": 2}},
        {"strategyType": 0, "probabilisticSampling": {"samplingRate": "half"}},
        {"strategyType": 0, "probabilisticSampling": {"samplingRate": True}},
        {"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": -1}},
        {"strategyType": 0, "probabilisticSampling": {"samplingRate": 1}, "operationSampling": [1]},
        {
            "strategyType": 0,
            "probabilisticSampling": {"samplingRate": 1},
            "operationSampling": {"perOperationStrategies": [{"operation": 3}]},
        },
    ],
)
def test_malformed_answers_are_refused(body: object) -> None:
    with pytest.raises(ValueError):
        parse_strategy(body)


def test_starts_at_the_initial_rate_and_stays_parent_based() -> None:
    remote = JaegerRemoteSampler(RemoteSamplerConfig(initial_sampling_rate=0.0), "svc", start=False)
    assert remote.status().strategy == "probabilistic 0" and remote.status().refreshed_at is None
    sampler = KotaemonSampler(remote, always_sample=("sensitive*",))
    drop, keep = Decision.DROP, Decision.RECORD_AND_SAMPLE
    assert sampler.should_sample(None, 99, "search").decision is drop
    assert sampler.should_sample(None, 99, "sensitive lookup").decision is keep
    assert sampler.should_sample(baggage.set_baggage("kotaemon.debug", "true"), 99, "search").decision is keep


# --- what Jaeger's adaptive sampling serves, and what it needs to see on the roots we keep

ADAPTIVE = {  # Jaeger v2 `remote_sampling: adaptive:` answer: operationSampling and no probabilisticSampling
    "strategyType": "PROBABILISTIC",
    "operationSampling": {
        "defaultSamplingProbability": 0.001,
        "defaultLowerBoundTracesPerSecond": 1 / 60,
        "perOperationStrategies": [
            {"operation": "busy", "probabilisticSampling": {"samplingRate": 0.05}},
            {"operation": "quiet", "probabilisticSampling": {"samplingRate": 0.5}},
        ],
        "defaultUpperBoundTracesPerSecond": 0,
    },
}


def answer_in_order(operations: list[str], rates: dict[str, float]) -> dict[str, object]:
    listed = [{"operation": name, "probabilisticSampling": {"samplingRate": rates[name]}} for name in operations]
    return {**ADAPTIVE, "operationSampling": {**ADAPTIVE["operationSampling"], "perOperationStrategies": listed}}  # type: ignore[dict-item]


def test_adaptive_answer_without_a_service_probability() -> None:
    strategy = parse_strategy(ADAPTIVE)
    assert isinstance(strategy, PerOperation)
    assert {name: s.rate for name, s in strategy.listed.items()} == {"busy": 0.05, "quiet": 0.5}
    assert strategy.default_rate == 0.001 and strategy.lower_bound == pytest.approx(1 / 60)
    # the order Jaeger lists operations in does not change the description (nor, below, the limiters)
    assert parse_strategy(answer_in_order(["quiet", "busy"], {"busy": 0.05, "quiet": 0.5})).description == (
        strategy.description
    )


def test_kept_roots_carry_the_probability_in_force_for_their_operation() -> None:
    strategy = parse_strategy(ADAPTIVE)
    under = {rate: int(rate * 2**64) - 1 for rate in (0.05, 0.5, 0.001)}  # trace ids the probability keeps
    assert strategy.decide(under[0.05], "busy") == {"sampler.type": "probabilistic", "sampler.param": 0.05}
    assert strategy.decide(under[0.5], "quiet") == {"sampler.type": "probabilistic", "sampler.param": 0.5}
    assert strategy.decide(under[0.001], "other") == {"sampler.type": "probabilistic", "sampler.param": 0.001}
    # above the probability: the lower bound keeps the first (one a minute), tagged as such, then nothing
    assert strategy.decide(2**64 - 1, "fresh") == {"sampler.type": "lowerbound", "sampler.param": 0.001}
    assert strategy.decide(2**64 - 1, "fresh") is None
    limited = parse_strategy({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 4}})
    assert limited.decide(1, "x") == {"sampler.type": "ratelimiting", "sampler.param": 4.0}
    assert parse_strategy({"strategyType": 0, "probabilisticSampling": {"samplingRate": 1}}).decide(1, "x") == {
        "sampler.type": "probabilistic",
        "sampler.param": 1.0,
    }


def test_the_sampler_adds_the_tags_to_the_roots_attributes() -> None:
    remote = JaegerRemoteSampler(RemoteSamplerConfig(initial_sampling_rate=1.0), "svc", start=False)
    result = remote.should_sample(None, 5, "search", attributes={"http.route": "/ask"})
    assert dict(result.attributes) == {"http.route": "/ask", "sampler.type": "probabilistic", "sampler.param": 1.0}
    assert dict(remote.should_sample(None, 5, "search").attributes) == {
        "sampler.type": "probabilistic",
        "sampler.param": 1.0,
    }
    # forced and parent-decided spans carry none: Jaeger must not count them as sampled by a probability
    sampler = KotaemonSampler(remote, always_sample=("sensitive*",))
    assert dict(sampler.should_sample(None, 5, "sensitive op").attributes) == {}


def test_lower_bound_state_survives_answers_listed_in_another_order() -> None:
    # Jaeger lists operations in a new order on nearly every answer: a limiter rebuilt for each would keep one
    # trace per poll (112-155 a minute for a bound of one a minute); kept, it keeps one in all
    limiters = Limiters()
    rates = {"busy": 0.0, "quiet": 0.0}
    kept_quiet = 0
    for _ in range(50):
        order = random.sample(sorted(rates), k=2)
        strategy = parse_strategy(answer_in_order(order, rates), limiters)
        kept_quiet += kept(strategy, 2**64 - 1, "quiet")
    assert kept_quiet == 1


def test_probabilistic_samples_count_against_the_lower_bound() -> None:
    strategy = LowerBounded(0.5, 1)
    assert strategy.decide(0, "x") == {"sampler.type": "probabilistic", "sampler.param": 0.5}  # uses the bound's token
    assert strategy.decide(2**64 - 1, "x") is None  # so the lower bound has nothing left this second
    fresh = LowerBounded(0.5, 1)
    assert fresh.decide(2**64 - 1, "x") == {"sampler.type": "lowerbound", "sampler.param": 0.5}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_changed_rate_keeps_the_balance() -> None:
    clock = Clock()
    limiter = RateLimitingSampler(2, clock)
    assert [limiter._take() for _ in range(3)] == [True, True, False]
    limiter.update(4)  # a new rate does not refill the bucket
    assert not limiter._take()
    clock.now += 0.5
    assert [limiter._take() for _ in range(3)] == [True, True, False]
    assert limiter.per_second == 4


def test_parentbased_jaeger_remote_is_registered_beside_jaeger_remote() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_sampler")}
    assert found["parentbased_jaeger_remote"].value == found["jaeger_remote"].value
