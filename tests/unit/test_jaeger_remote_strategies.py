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
    LowerBounded,
    PerOperation,
    Probabilistic,
    RateLimiting,
    RemoteSamplerConfig,
    parse_sampler_argument,
    parse_strategy,
    service_name,
)
from opentelemetry_instrumentation_kotaemon.sdk.sampling import KotaemonSampler


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
    kept = [strategy.decide(i, "x") for i in ids]
    assert kept == [reference.should_sample(None, i, "x").decision is Decision.RECORD_AND_SAMPLE for i in ids]
    assert 0.25 < sum(kept) / len(kept) < 0.35


def test_rate_limiting_answer() -> None:
    strategy = parse_strategy({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 3}})
    assert isinstance(strategy, RateLimiting) and strategy.per_second == 3
    assert [strategy.decide(1, "x") for _ in range(5)] == [True, True, True, False, False]


def test_lower_bound_keeps_traces_the_probability_would_drop() -> None:
    strategy = LowerBounded(0.0, 2)
    assert [strategy.decide(1, "x") for _ in range(4)] == [True, True, False, False]
    assert not any(LowerBounded(0.0, 0).decide(1, "x") for _ in range(3))


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
    assert all(strategy.decide(random.getrandbits(128), "sensitive") for _ in range(100))
    # every other operation: probability 0, but at least one trace per second each
    assert [strategy.decide(5, "search") for _ in range(3)] == [True, False, False]
    assert [strategy.decide(5, "index") for _ in range(3)] == [True, False, False]
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
    assert [strategy.decide(5, name) for name in ("a", "b", "a", "b")] == [True, True, False, False]
    assert all(strategy.decide(5, "sensitive") for _ in range(50))
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
