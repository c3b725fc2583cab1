"""The distro's defaults and checks of standard variables, and our samplers (context from baggage and the end-to-end
checks of the same settings: tests/integration/test_configuration.py, tests/e2e/test_configuration.py)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry_instrumentation_kotaemon.sdk.distro import default_service_name
from opentelemetry_instrumentation_kotaemon.sdk.sampling import (
    DebugHeaderPropagator,
    KotaemonSampler,
    RateLimitingSampler,
    rate_limit_sampler,
    ratio_sampler,
)
from opentelemetry_instrumentation_kotaemon.settings import sanitize_standard_variables

# --- standard variables


@pytest.mark.parametrize(
    ("name", "value", "fixed"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", None),
        ("OTEL_BSP_SCHEDULE_DELAY", "-5", None),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1m", None),
        ("OTEL_TRACES_EXPORTER", "otlp,zipkin", "otlp"),
        ("OTEL_METRICS_EXPORTER", "nothing-installed", "otlp"),
    ],
)
def test_malformed_standard_values_are_replaced_with_one_warning(
    name: str, value: str, fixed: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    environ = {name: value}
    sanitize_standard_variables(environ)
    assert environ.get(name) == fixed
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and name in messages[0] and repr(value) in messages[0]


def test_good_standard_values_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    environ = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=x%3Dy",
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_LOGS_EXPORTER": "none",
    }
    before = dict(environ)
    sanitize_standard_variables(environ)
    assert environ == before
    assert caplog.records == []


def test_default_service_name_is_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["/srv/rag/app.py", "--port", "1"])
    assert default_service_name() == "app"
    monkeypatch.setattr("sys.argv", ["-c"])
    assert default_service_name() == "kotaemon-app"


# --- samplers


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _decisions(sampler: RateLimitingSampler, count: int) -> list[bool]:
    return [sampler.should_sample(None, 1, "root").decision.is_sampled() for _ in range(count)]  # type: ignore[no-untyped-call]


def test_rate_limit_allows_a_second_of_burst_then_refills_with_time() -> None:
    clock = FakeClock()
    sampler = RateLimitingSampler(10, clock)
    assert _decisions(sampler, 12) == [True] * 10 + [False] * 2
    clock.now += 0.25  # 2.5 tokens
    assert _decisions(sampler, 3) == [True, True, False]
    clock.now += 100
    assert _decisions(sampler, 11).count(True) == 10  # never more than one second's worth


def test_fractional_rate_keeps_one_trace_per_period() -> None:
    clock = FakeClock()
    sampler = RateLimitingSampler(0.5, clock)
    assert _decisions(sampler, 2) == [True, False]
    clock.now += 1.0
    assert _decisions(sampler, 1) == [False]
    clock.now += 1.0
    assert _decisions(sampler, 1) == [True]


def _parent(sampled: bool, remote: bool) -> context.Context:
    span_context = SpanContext(
        trace_id=7, span_id=9, is_remote=remote, trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0)
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _sampled(sampler: KotaemonSampler, ctx: context.Context | None, name: str = "root", **attributes: object) -> bool:
    return sampler.should_sample(ctx, 7, name, attributes=attributes or None).decision is Decision.RECORD_AND_SAMPLE


def test_kotaemon_sampler_follows_parents_and_keeps_forced_traces() -> None:
    sampler = KotaemonSampler(ALWAYS_OFF, always_sample=("login*", "*payment*"))
    assert not _sampled(sampler, None)
    assert _sampled(sampler, _parent(sampled=True, remote=False))
    assert not _sampled(sampler, _parent(sampled=False, remote=True))
    debug = baggage.set_baggage("kotaemon.debug", "true")
    assert _sampled(sampler, debug)
    assert _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=False, remote=True)))
    # a local unsampled parent stays unsampled: a forced child would be an orphan
    assert not _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=False, remote=False)))
    assert _sampled(sampler, None, "POST /api", **{"http.request.header.x_debug_tracing": ("true",)})
    assert _sampled(sampler, None, "login user") and _sampled(sampler, None, "POST /payment/confirm")
    assert not _sampled(sampler, None, "search")


def test_debug_header_is_noted_when_the_incoming_context_is_extracted() -> None:
    sampler = KotaemonSampler(ALWAYS_OFF)
    propagator = DebugHeaderPropagator()
    assert _sampled(sampler, propagator.extract({"x-debug-tracing": "True"}))
    assert not _sampled(sampler, propagator.extract({"x-debug-tracing": "false"}))
    assert not _sampled(sampler, propagator.extract({}))
    assert not _sampled(sampler, propagator.extract(object()))  # a carrier the getter cannot read fails nothing
    outgoing: dict[str, str] = {}
    propagator.inject(outgoing, propagator.extract({"x-debug-tracing": "true"}))
    assert outgoing == {}  # never passed on downstream


def test_traces_a_client_forces_have_a_budget_of_their_own(caplog: pytest.LogCaptureFixture) -> None:
    # any client can send the debug header or baggage: beyond the budget they are sampled like the rest
    caplog.set_level(logging.WARNING, "opentelemetry_instrumentation_kotaemon.sdk.sampling")
    sampler = KotaemonSampler(ALWAYS_OFF, always_sample=("login*",), debug_per_second=2)  # bursts of 10 s: 20
    debug = baggage.set_baggage("kotaemon.debug", "true")
    header = DebugHeaderPropagator().extract({"x-debug-tracing": "true"})
    decisions = [_sampled(sampler, ctx) for ctx in (debug, header) * 15]
    assert 20 <= sum(decisions) <= 21 and decisions[:20] == [True] * 20 and not any(decisions[-5:]), decisions
    assert not _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=False, remote=True)))
    # a sampled parent keeps its trace without using the budget; the operator's patterns have no budget
    assert _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=True, remote=True)))
    assert all(_sampled(sampler, None, "login user") for _ in range(10))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "More than 2 new traces per second" in warnings[0], warnings
    assert "OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND" in warnings[0]
    # 0: the header and the baggage are ignored
    assert not _sampled(KotaemonSampler(ALWAYS_OFF, debug_per_second=0), debug)


def test_debug_budget_setting(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING)
    assert ratio_sampler().debug_budget.per_second == 5  # type: ignore[attr-defined]
    monkeypatch.setenv("OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND", "0.5")
    assert ratio_sampler().debug_budget.per_second == 0.5  # type: ignore[attr-defined]
    monkeypatch.setenv("OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND", "0")
    assert ratio_sampler().debug_budget is None  # type: ignore[attr-defined]
    monkeypatch.setenv("OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND", "plenty")
    assert ratio_sampler().debug_budget.per_second == 5  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND='plenty'" in messages[0], messages


def test_sampler_arguments_are_validated(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("OTEL_KOTAEMON_ALWAYS_SAMPLE", "login*")
    limited = rate_limit_sampler("lots")
    assert isinstance(limited.root, RateLimitingSampler) and limited.root.per_second == 10.0
    assert limited.always_sample == ("login*",)
    assert ratio_sampler("1.5").root.rate == 1.0  # type: ignore[attr-defined]
    assert ratio_sampler("0.25").root.rate == 0.25  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all("OTEL_TRACES_SAMPLER_ARG" in m for m in messages)


def test_the_distro_module_leaves_the_sdk_unimported() -> None:
    """`opentelemetry-instrument` imports the distro before its `_configure` replaces malformed values; the SDK's
    trace module reads span limits from the environment when imported, so the distro must not import it."""
    code = (
        "import sys, opentelemetry_instrumentation_kotaemon.sdk.distro\nprint('opentelemetry.sdk.trace' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
